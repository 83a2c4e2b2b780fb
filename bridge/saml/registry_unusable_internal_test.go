package saml

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// TestRegistryStoredSPThatDoesNotBuild (brief H2 item 3, s18): a stored SP whose record no
// longer builds is refused alone. Its lookups, by id and by entity id, answer ErrUnusable with
// the entity id and the parse error; the other stored SP is found; Unusable lists it; the
// registry logs it once per reading of the records (not again when they did not change); and
// Remove takes it away (the CLI's way out), after which it is unknown. Before, every lookup of
// every SP failed, and so did Remove.
func TestRegistryStoredSPThatDoesNotBuild(t *testing.T) {
	ctx := t.Context()
	st, regs := sqliteRegistries(t, 1)
	reg := regs[0]
	var logs bytes.Buffer
	reg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	lms, err := reg.Register(ctx, config.SAMLServiceProvider{ID: "lms"}, spMetadata(t, "https://lms.example.org"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	const broken = "https://broken.example.org"
	rec, err := Record(config.SAMLServiceProvider{ID: "broken"}, []byte("<EntityDescriptor"), broken, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSAMLServiceProvider(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := reg.Refresh(ctx); err != nil {
		t.Fatalf("refresh with a record that does not build: %v", err)
	}
	if err := reg.Refresh(ctx); err != nil { // the same records: not logged again
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), broken); n != 1 || !strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("log lines naming the SP: %d, want 1 error line:\n%s", n, logs.String())
	}
	if sp, err := reg.ByID(ctx, "lms"); err != nil || sp.EntityID != lms.EntityID {
		t.Fatalf("the SP that builds: %v", err)
	}
	for name, lookup := range map[string]func() (*SP, error){
		"by id":        func() (*SP, error) { return reg.ByID(ctx, "broken") },
		"by entity id": func() (*SP, error) { return reg.ByEntityID(ctx, broken) },
	} {
		_, err := lookup()
		if !errors.Is(err, ErrUnusable) || errors.Is(err, sso.ErrNotFound) || !strings.Contains(err.Error(), broken) || !strings.Contains(err.Error(), "metadata") {
			t.Fatalf("the SP that does not build, %s: %v", name, err)
		}
	}
	all, err := reg.All(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("All: %d SPs, %v; want lms alone", len(all), err)
	}
	if u, err := reg.Unusable(ctx); err != nil || len(u) != 1 || u[0].ID != "broken" || u[0].EntityID != broken {
		t.Fatalf("Unusable: %+v, %v", u, err)
	}
	// A back-channel logout event queued for it fails for good, with the reason (brief M1 item
	// 4, s18: it was retried until dead-lettered, while the other logout paths skip it).
	payload, _ := json.Marshal(sloPayload{SP: broken, NameID: "n1", SessionIndex: "ix"})
	derr := (&BackChannelSender{Registry: reg}).Deliver(ctx, &store.OutboxEvent{ID: "e1", Type: SLOType, Channel: SLOChannel,
		ClientID: "broken", Payload: payload})
	if !outbox.IsPermanent(derr) || !strings.Contains(derr.Error(), broken) || !strings.Contains(derr.Error(), "does not build") {
		t.Fatalf("delivering a logout to the SP that does not build: %v; want a permanent error naming it", derr)
	}
	// Removing it says what went with it (brief M1 item 1): its place in one session.
	liveSession(t, st, "s1")
	if err := st.AddSAMLParticipant(ctx, &store.SAMLParticipant{SessionID: "s1", SP: broken, NameID: "n1", SessionIndex: "ix",
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if removed, err := reg.Remove(ctx, "broken"); err != nil || removed != (store.SAMLRemoval{Participations: 1}) {
		t.Fatalf("remove the SP that does not build: %+v, %v; want its one participation counted", removed, err)
	}
	if _, err := reg.ByID(ctx, "broken"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("after its removal: %v", err)
	}
	if u, err := reg.Unusable(ctx); err != nil || len(u) != 0 {
		t.Fatalf("Unusable after the removal: %+v, %v", u, err)
	}
}

// TestRegistryLoad: the server's start-up builds the stored SPs (Load) and logs one that does
// not build; an SP registered since by another process (the CLI, another replica's registry)
// is found at the first lookup, as before start-up built them (the registry read them then).
func TestRegistryLoad(t *testing.T) {
	ctx := t.Context()
	st, regs := sqliteRegistries(t, 2)
	server, cli := regs[0], regs[1]
	var logs bytes.Buffer
	server.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	rec, err := Record(config.SAMLServiceProvider{ID: "broken"}, []byte("<EntityDescriptor"), "https://broken.example.org", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSAMLServiceProvider(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := server.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "https://broken.example.org") {
		t.Fatalf("Load did not log the SP that does not build:\n%s", logs.String())
	}
	lms, err := cli.Register(ctx, config.SAMLServiceProvider{ID: "lms"}, spMetadata(t, "https://lms.example.org"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if sp, err := server.ByID(ctx, "lms"); err != nil || sp.EntityID != lms.EntityID {
		t.Fatalf("an SP registered after Load, at the first lookup: %v", err)
	}
	if n := strings.Count(logs.String(), "https://broken.example.org"); n != 2 {
		t.Fatalf("log lines naming the broken SP: %d, want 2 (Load, and the records read anew)", n)
	}
}
