package postgres_test

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestSignOutOfClientAllOrNothing (session 24, left by s23): SignOutOfClient ("Sign out of
// <app>", 92e9f37) runs its statements in one transaction: the app leaves the member's
// sessions, the pending grants close (the unexchanged code consumed, the approved device
// authorization denied) and then the families are revoked. A trigger fails that last
// statement here; then none of the earlier ones is visible: the session still lists the app
// (the account page offers "Sign out of <app>" again), the family is live, the code is not
// consumed and the device authorization is still approved. The same call succeeds once the
// trigger is gone. (SQLite has its own: TestSignOutOfClientAllOrNothing in store/sqlite.)
func TestSignOutOfClientAllOrNothing(t *testing.T) {
	ctx := t.Context()
	s, dsn := openTest(t)
	h := &ssotest.H{T: t, S: s, Ctx: ctx, Now: ssotest.Now()}
	const sub, app = "alice", "portal"
	sess := h.CreateSession(sub, app)
	f := h.Grant(sub, app)
	r := h.NewAuthRequest()
	r.ClientID = app
	ssotest.NoErr(t, s.CreateAuthRequest(ctx, r), "CreateAuthRequest")
	ssotest.NoErr(t, s.CompleteAuthRequest(ctx, r.ID, sso.Completion{Subject: sub, AuthTime: h.Now, AMR: []string{"pwd"}, SessionID: sess.ID}), "CompleteAuthRequest")
	codeHash := ssotest.RandomID()
	ssotest.NoErr(t, s.SaveCode(ctx, r.ID, codeHash, h.Now.Add(10*time.Minute)), "SaveCode")
	d := ssotest.NewDevice(h.Now)
	d.ClientID = app
	ssotest.NoErr(t, s.CreateDeviceAuthorization(ctx, d), "CreateDeviceAuthorization")
	ssotest.NoErr(t, s.DecideDeviceAuthorization(ctx, d.UserCode, true, sso.Completion{Subject: sub, SessionID: sess.ID}, h.Now), "approve")

	conn, err := pgx.Connect(ctx, dsn)
	ssotest.NoErr(t, err, "connect")
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE FUNCTION refuse_revoke() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.revoked AND NOT OLD.revoked THEN RAISE EXCEPTION 'revocation refused'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER refuse_revoke BEFORE UPDATE ON families FOR EACH ROW EXECUTE FUNCTION refuse_revoke()`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SignOutOfClient(ctx, sub, app); err == nil {
		t.Fatal("SignOutOfClient succeeded with its revocation of the families refused")
	}

	got, err := s.Session(ctx, sess.ID)
	ssotest.NoErr(t, err, "Session")
	if !slices.Equal(got.Clients, []string{app}) {
		t.Errorf("after a failed SignOutOfClient the session lists %q, want [%s]", got.Clients, app)
	}
	if h.Revoked(f.FamilyID) {
		t.Error("after a failed SignOutOfClient the member's family is revoked")
	}
	cr, _, err := s.CodeRequest(ctx, r.ID)
	ssotest.NoErr(t, err, "CodeRequest")
	if cr.CodeConsumed {
		t.Error("after a failed SignOutOfClient the member's unexchanged code is consumed")
	}
	polled, err := s.PollDeviceAuthorization(ctx, d.DeviceCodeHash, app, h.Now)
	ssotest.NoErr(t, err, "PollDeviceAuthorization")
	if polled.State != sso.DeviceApproved {
		t.Errorf("after a failed SignOutOfClient the member's device authorization is %q, want %q", polled.State, sso.DeviceApproved)
	}

	if _, err := conn.Exec(ctx, `DROP TRIGGER refuse_revoke ON families`); err != nil {
		t.Fatal(err)
	}
	if left, families, err := s.SignOutOfClient(ctx, sub, app); err != nil || left != 1 || families != 1 {
		t.Fatalf("SignOutOfClient again = %d, %d, %v; want 1, 1, nil", left, families, err)
	}
	if !h.Revoked(f.FamilyID) {
		t.Error("the family is live after SignOutOfClient succeeded")
	}
}
