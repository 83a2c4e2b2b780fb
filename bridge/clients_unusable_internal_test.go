package bridge

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// TestWarnStoredClientsUnusable (closing s19, noticed by M): at start-up, a stored client with an
// id of a member's subject's shape is named as not served, with what to do, and not as "served as
// before" (which it was until session 20).
func TestWarnStoredClientsUnusable(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	const id = "0123456789abcdef0123456789abcdef01234567"
	sc, err := sso.EncodeClient(&sso.ClientConfig{ID: id, Name: "Old", SecretHash: "sha256:" + sso.HashToken("s"),
		RedirectURIs: []string{"https://old.example/cb"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateClient(ctx, sc); err != nil {
		t.Fatal(err)
	}
	reg, err := sso.NewRegistry(ctx, st, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	warnStoredClients(ctx, reg, []string{"RS256"}, slog.New(slog.NewTextHandler(&logs, nil)))
	out := logs.String()
	if !strings.Contains(out, "is not served") || !strings.Contains(out, "client="+id) || strings.Contains(out, "served as before") {
		t.Fatalf("start-up lines: %s", out)
	}
}

// TestWarnStoredClientsRedirectResponseParam (review s25 X-5): a client stored before redirect
// URIs naming a response parameter were refused (https://old.example/cb?state=x) is kept in
// service, as before, and named at start-up with the field to fix; refusing to start would take
// every app of the bridge down for one registration that worked until the upgrade.
func TestWarnStoredClientsRedirectResponseParam(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	sc, err := sso.EncodeClient(&sso.ClientConfig{ID: "old", Name: "Old", SecretHash: "sha256:" + sso.HashToken("s"),
		RedirectURIs: []string{"https://old.example/cb?state=x"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateClient(ctx, sc); err != nil {
		t.Fatal(err)
	}
	reg, err := sso.NewRegistry(ctx, st, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.ClientConfig(ctx, "old"); err != nil {
		t.Fatalf("the stored client is no longer served: %v", err)
	}
	var logs bytes.Buffer
	warnStoredClients(ctx, reg, []string{"RS256"}, slog.New(slog.NewTextHandler(&logs, nil)))
	out := logs.String()
	if !strings.Contains(out, "served as before") || !strings.Contains(out, "client=old") || !strings.Contains(out, `clients[old].redirect_uris`) || !strings.Contains(out, `\"state\"`) {
		t.Fatalf("start-up lines: %s", out)
	}
}
