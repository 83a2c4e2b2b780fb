package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// runWith is run on g (its metadataClient).
func runWith(t *testing.T, g *globals, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := rootCmdWith(g)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// TestSAMLCLIRefresh (brief s20 M2 item 1, review s19 X19-9): an SP rolls its certificate over
// and publishes new metadata under the same entity id, while policies.lms names it and a member
// has a session there. `saml refresh lms` gives the bridge the new metadata from a file, and by
// entity id from an https URL (fetched once, TLS checked): the stored metadata is replaced, the
// SP keeps its id, policy and place in the session, and each refresh is audited with what
// changed. `saml register` of the entity again is refused naming `saml refresh`. Metadata of
// another entity, a redirect to plain http, or a document over the size limit are refused and
// change nothing. Before, the only way was to take the policy out, `saml remove` (which dropped
// the member's single logout there) and register again.
func TestSAMLCLIRefresh(t *testing.T) {
	dir := t.TempDir()
	dd := "--data-dir=" + filepath.Join(dir, "data")
	conf := filepath.Join(dir, "ssobridge.yaml")
	if err := os.WriteFile(conf, []byte("policies:\n  lms: {access_rule: \"member.is_current\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := "--config=" + conf
	const entity = "https://lms.example.org/saml/metadata"
	file := filepath.Join(dir, "lms.xml")
	if err := os.WriteFile(file, spMetadata(t, "https://lms.example.org/"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "saml", "register", dd, c, "--id", "lms", "--metadata-file", file, "--encrypt-assertions"); err != nil {
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
	if err := st.AddSAMLParticipant(ctx, &store.SAMLParticipant{SessionID: "s1", SP: entity, NameID: "n1", SessionIndex: "ix",
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	stored := func() []byte {
		t.Helper()
		sps, err := st.SAMLServiceProviders(ctx)
		if err != nil || len(sps) != 1 || sps[0].ID != "lms" {
			t.Fatalf("stored SPs: %+v, %v", sps, err)
		}
		return sps[0].Metadata
	}

	if out, err := run(t, "saml", "register", dd, c, "--id", "lms2", "--metadata-file", file); err == nil || !strings.Contains(err.Error(), "saml refresh lms") {
		t.Fatalf("register of the entity again: %v\n%s; want a refusal naming saml refresh", err, out)
	}

	rolled := spMetadata(t, "https://lms.example.org/") // same entity, a new certificate
	if err := os.WriteFile(file, rolled, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "saml", "refresh", dd, c, "lms", "--metadata-file", file)
	if err != nil || !strings.Contains(out, "refreshed lms ("+entity+"): changed: encryption certificates") ||
		!regexp.MustCompile(`\n  encryption certificates: [0-9a-f]{16} \(was [0-9a-f]{16}\)\n`).MatchString(out) {
		t.Fatalf("refresh from a file: %v\n%s", err, out)
	}
	if !bytes.Equal(stored(), rolled) {
		t.Fatal("stored metadata not replaced")
	}
	if out, err := run(t, "saml", "refresh", dd, c, "lms", "--metadata-file", file); err != nil || !strings.Contains(out, "nothing changed") {
		t.Fatalf("refresh with the same metadata: %v\n%s", err, out)
	}

	// From an https URL, by entity id.
	again := spMetadata(t, "https://lms.example.org/")
	mux := http.NewServeMux()
	mux.HandleFunc("/md", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(again) })
	mux.HandleFunc("/other", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(spMetadata(t, "https://other.example.org/"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(append(append([]byte{}, again...), bytes.Repeat([]byte(" "), maxMetadata)...))
	})
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	plain := httptest.NewServer(mux)
	defer plain.Close()
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		// To plain http on another host name (not loopback as --metadata-url could name it).
		http.Redirect(w, r, strings.Replace(plain.URL, "127.0.0.1", "lms.example.org", 1)+"/md", http.StatusFound)
	})
	client := srv.Client()
	client.CheckRedirect = checkMetadataRedirect
	g := &globals{metadataClient: client}
	if out, err := runWith(t, g, "saml", "refresh", dd, c, entity, "--metadata-url", srv.URL+"/md"); err != nil || !strings.Contains(out, "refreshed lms") {
		t.Fatalf("refresh from an https URL: %v\n%s", err, out)
	}
	if !bytes.Equal(stored(), again) {
		t.Fatal("stored metadata not replaced from the URL")
	}
	// Without the test's roots the server's certificate is not trusted.
	if out, err := run(t, "saml", "refresh", dd, c, "lms", "--metadata-url", srv.URL+"/md"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("refresh from a server the system does not trust: %v\n%s", err, out)
	}
	for _, tc := range []struct{ path, refusal string }{
		{"/other", "not " + entity},
		{"/redirect", "redirected to"},
		{"/big", "larger than"},
	} {
		if out, err := runWith(t, g, "saml", "refresh", dd, c, "lms", "--metadata-url", srv.URL+tc.path); err == nil || !strings.Contains(err.Error(), tc.refusal) {
			t.Fatalf("refresh from %s: %v\n%s; want a refusal with %q", tc.path, err, out, tc.refusal)
		}
	}
	if !bytes.Equal(stored(), again) {
		t.Fatal("a refused refresh changed the stored metadata")
	}
	if ps, err := st.SAMLParticipants(ctx, "s1"); err != nil || len(ps) != 1 || ps[0].SP != entity {
		t.Fatalf("the member's place at the SP after the refreshes: %+v, %v", ps, err)
	}
	ev, err := st.AuditEvents(ctx, store.AuditFilter{Event: "admin.saml_sp_refresh"})
	if err != nil || len(ev) != 2 || ev[0].ClientID != "lms" || !strings.Contains(ev[0].Detail, entity+": metadata replaced; changed: encryption certificates") {
		t.Fatalf("audit rows of the refreshes: %+v %v", ev, err)
	}
	if out, err := run(t, "saml", "refresh", dd, c, "nobody", "--metadata-file", file); err == nil || !strings.Contains(err.Error(), "no SAML service provider") {
		t.Fatalf("refresh of an SP never registered: %v\n%s", err, out)
	}
}
