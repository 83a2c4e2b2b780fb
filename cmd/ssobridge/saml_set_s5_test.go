package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// TestSAMLCLISet (brief S5 2): `saml set <sp> --name-id-format` changes a registered SP's format
// in place: the SP keeps its metadata and its place in a member's session (with the NameID it
// was given), the change is audited (admin.saml_sp_settings) and the output says what it means
// for sessions; email without email_verified is refused and writes nothing; the same value
// again writes nothing; --allow-insecure-soap-slo turns the opt-in on. Before, the only way was
// remove (which drops the SP's places in sessions) and register again.
func TestSAMLCLISet(t *testing.T) {
	dir := t.TempDir()
	dd := "--data-dir=" + filepath.Join(dir, "data")
	conf := filepath.Join(dir, "ssobridge.yaml")
	if err := os.WriteFile(conf, []byte("email_verified: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := "--config=" + conf
	const entity = "https://lms.example.org/saml/metadata"
	file := filepath.Join(dir, "lms.xml")
	if err := os.WriteFile(file, spMetadata(t, "https://lms.example.org/"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "saml", "register", dd, c, "--id", "lms", "--metadata-file", file); err != nil {
		t.Fatalf("register: %v\n%s", err, out)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "data", "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	if err := st.CreateSession(ctx, &sso.Session{ID: "s1", Subject: "alice", AuthTime: now, AMR: []string{"pwd"}, CreatedAt: now,
		LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddSAMLParticipant(ctx, &store.SAMLParticipant{SessionID: "s1", SP: entity, NameID: "alice", SessionIndex: "ix",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	settings := func() config.SAMLServiceProvider {
		t.Helper()
		sps, err := st.SAMLServiceProviders(ctx)
		if err != nil || len(sps) != 1 {
			t.Fatalf("stored SPs: %+v, %v", sps, err)
		}
		var s config.SAMLServiceProvider
		if err := json.Unmarshal(sps[0].Settings, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	if out, err := run(t, "saml", "set", "lms", dd, c, "--name-id-format", "email"); err == nil || !strings.Contains(err.Error(), "email_verified") {
		t.Fatalf("email without email_verified: %v\n%s", err, out)
	}
	if s := settings(); s.NameIDFormat != "persistent" {
		t.Fatalf("a refused change wrote %+v", s)
	}
	if err := os.WriteFile(conf, []byte("email_verified: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "saml", "set", entity, dd, c, "--name-id-format", "email")
	if err != nil || !strings.Contains(out, "name_id_format: persistent -> email") || !strings.Contains(out, "NameID the SP was given") {
		t.Fatalf("set: %v\n%s", err, out)
	}
	if s := settings(); s.NameIDFormat != "email" || s.ID != "lms" {
		t.Fatalf("stored settings %+v", s)
	}
	if ps, err := st.SAMLParticipants(ctx, "s1"); err != nil || len(ps) != 1 || ps[0].NameID != "alice" {
		t.Fatalf("the SP's place in the session: %+v, %v", ps, err)
	}
	evs, err := st.AuditEvents(ctx, store.AuditFilter{Event: "admin.saml_sp_settings"})
	if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Detail, "persistent -> email") {
		t.Fatalf("audit: %+v, %v", evs, err)
	}
	if out, err := run(t, "saml", "set", "lms", dd, c, "--name-id-format", "email"); err != nil || !strings.Contains(out, "nothing changed") {
		t.Fatalf("the same value again: %v\n%s", err, out)
	}
	if out, err := run(t, "saml", "set", "lms", dd, c, "--allow-insecure-soap-slo"); err != nil || !strings.Contains(out, "allow_insecure_soap_slo: false -> true") {
		t.Fatalf("--allow-insecure-soap-slo: %v\n%s", err, out)
	}
	if s := settings(); !s.AllowInsecureSOAPSLO || s.NameIDFormat != "email" {
		t.Fatalf("stored settings %+v", s)
	}
	if out, err := run(t, "saml", "set", "lms", dd, c); err == nil {
		t.Fatalf("set without a setting: %s", out)
	}
	if evs, _ := st.AuditEvents(ctx, store.AuditFilter{Event: "admin.saml_sp_settings"}); len(evs) != 2 {
		t.Fatalf("%d audit events, want 2 (the unchanged one writes none)", len(evs))
	}
}
