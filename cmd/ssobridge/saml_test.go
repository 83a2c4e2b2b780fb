package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// spMetadata is a real SP's metadata (crewjam/saml's ServiceProvider) at base.
func spMetadata(t *testing.T, base string) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	u, _ := url.Parse(base)
	sp := crewjam.ServiceProvider{Key: key, Certificate: cert, MetadataURL: *u.JoinPath("saml/metadata"),
		AcsURL: *u.JoinPath("saml/acs"), SloURL: *u.JoinPath("saml/slo")}
	b, err := xml.Marshal(sp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSAMLCLI: register from a file and from a URL (fetched once, at registration), list,
// refuse a second registration of the same id or entity, remove.
func TestSAMLCLI(t *testing.T) {
	dd := "--data-dir=" + t.TempDir()
	file := filepath.Join(t.TempDir(), "lms.xml")
	if err := os.WriteFile(file, spMetadata(t, "https://lms.example.org/"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "saml", "register", dd, "--id", "lms", "--name", "Learning Portal", "--metadata-file", file, "--allowed-role", "Member")
	if err != nil || !strings.Contains(out, "registered lms (https://lms.example.org/saml/metadata)") {
		t.Fatalf("register from file: %v\n%s", err, out)
	}
	var fetched atomic.Int32
	jobs := spMetadata(t, "https://jobs.example.org/")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		_, _ = w.Write(jobs)
	}))
	defer srv.Close()
	// An e-mail NameID needs the configuration's email_verified: true (review s19 X19-10).
	out, err = run(t, "saml", "register", dd, "--id", "jobs", "--metadata-url", srv.URL, "--name-id-format", "email", "--encrypt-assertions")
	if err == nil || !strings.Contains(err.Error(), "email_verified: true") || fetched.Load() != 1 {
		t.Fatalf("register an e-mail NameID without email_verified: %v\n%s", err, out)
	}
	out, err = run(t, "saml", "register", dd, "--id", "jobs", "--metadata-url", srv.URL, "--encrypt-assertions")
	if err != nil || fetched.Load() != 2 {
		t.Fatalf("register from URL: %v (fetched %d times)\n%s", err, fetched.Load(), out)
	}
	for _, args := range [][]string{
		{"--id", "lms", "--metadata-url", srv.URL},             // id taken
		{"--id", "lms2", "--metadata-file", file},              // entity taken
		{"--id", "Bad Id", "--metadata-file", file},            // id malformed
		{"--id", "x", "--metadata-url", "http://a.example/md"}, // not https
	} {
		if out, err := run(t, append([]string{"saml", "register", dd}, args...)...); err == nil {
			t.Errorf("register %v accepted: %s", args, out)
		}
	}
	out, err = run(t, "saml", "list", dd)
	if err != nil || !strings.Contains(out, "lms ") || !strings.Contains(out, "Learning Portal") || !strings.Contains(out, "jobs ") ||
		!strings.Contains(out, "persistent") || fetched.Load() != 3 {
		t.Fatalf("list: %v (fetched %d)\n%s", err, fetched.Load(), out)
	}
	if _, err := run(t, "saml", "remove", dd, "lms"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "saml", "remove", dd, "lms"); err == nil {
		t.Fatal("removed twice")
	}
	out, err = run(t, "saml", "list", dd)
	if err != nil || strings.Contains(out, "lms ") || !strings.Contains(out, "jobs ") {
		t.Fatalf("list after remove: %v\n%s", err, out)
	}
}

// TestSAMLCLIRemoveCountsAndUnusable (brief M1 items 1 and 3, s18): `saml list` lists a stored SP
// whose record no longer builds, marked unusable with the reason (before, it was only logged);
// `saml remove` says what went with the SP (its places in sessions, its events not delivered),
// in its output and in the admin.saml_sp_remove audit row (before: "removed"), and removes the
// unusable one too.
func TestSAMLCLIRemoveCountsAndUnusable(t *testing.T) {
	dir := t.TempDir()
	dd := "--data-dir=" + dir
	file := filepath.Join(t.TempDir(), "lms.xml")
	if err := os.WriteFile(file, spMetadata(t, "https://lms.example.org/"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "saml", "register", dd, "--id", "lms", "--metadata-file", file); err != nil {
		t.Fatalf("register: %v\n%s", err, out)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const broken = "https://broken.example.org"
	rec, err := saml.Record(config.SAMLServiceProvider{ID: "broken"}, []byte("<EntityDescriptor"), broken, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSAMLServiceProvider(ctx, rec); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"s1", "s2"} {
		now := time.Now()
		if err := st.CreateSession(ctx, &sso.Session{ID: s, Subject: "alice", AuthTime: now, AMR: []string{"pwd"}, CreatedAt: now,
			LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := st.AddSAMLParticipant(ctx, &store.SAMLParticipant{SessionID: s, SP: "https://lms.example.org/saml/metadata",
			NameID: "n1", SessionIndex: "ix", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Enqueue(ctx, &store.OutboxEvent{ID: "e1", Key: "saml-slo/lms/alice", Type: saml.SLOType, Channel: saml.SLOChannel,
		ClientID: "lms", Subject: "alice", Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}

	out, err := run(t, "saml", "list", dd)
	if err != nil || !strings.Contains(out, "lms ") || !strings.Contains(out, "UNUSABLE") ||
		!strings.Contains(out, "unusable broken ("+broken+"): metadata: XML syntax error") {
		t.Fatalf("list with an SP that does not build: %v\n%s", err, out)
	}
	out, err = run(t, "saml", "remove", dd, "lms")
	const what = "2 session participations, 1 undelivered events"
	if err != nil || !strings.Contains(out, "removed lms; deleted with it: "+what) {
		t.Fatalf("remove lms: %v\n%s", err, out)
	}
	ev, err := st.AuditEvents(ctx, store.AuditFilter{Event: "admin.saml_sp_remove"})
	if err != nil || len(ev) != 1 || !strings.HasSuffix(ev[0].Detail, ": removed; deleted: "+what) {
		t.Fatalf("audit rows of the removal: %+v %v", ev, err)
	}
	if out, err := run(t, "saml", "remove", dd, "broken"); err != nil || !strings.Contains(out, "removed broken; deleted with it: 0 session participations, 0 undelivered events") {
		t.Fatalf("remove the SP that does not build: %v\n%s", err, out)
	}
	if out, err := run(t, "saml", "list", dd); err != nil || strings.Contains(out, "broken") || strings.Contains(out, "lms ") {
		t.Fatalf("list after the removals: %v\n%s", err, out)
	}
}

// TestSAMLRemoveUnusableNamedByPolicy (final read s18 R3-1): `saml remove` refuses a stored SP
// whose metadata no longer builds while a policies[<id>] names it, as it refuses a usable one:
// removed, the next start-up would refuse the configuration (a policy naming no app), the
// outcome keeping such an SP apart at start-up avoids. Once the policy is gone it is removed.
func TestSAMLRemoveUnusableNamedByPolicy(t *testing.T) {
	dir := t.TempDir()
	dd := "--data-dir=" + filepath.Join(dir, "data")
	conf := filepath.Join(dir, "ssobridge.yaml")
	write := func(yaml string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("policies:\n  broken: {access_rule: \"member.is_current\"}\n")
	c := "--config=" + conf
	if out, err := run(t, "saml", "list", dd, c); err != nil { // creates the store
		t.Fatalf("list: %v\n%s", err, out)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "data", "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := saml.Record(config.SAMLServiceProvider{ID: "broken"}, []byte("<EntityDescriptor"), "https://broken.example.org", time.Now())
	if err == nil {
		err = st.CreateSAMLServiceProvider(ctx, rec)
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "saml", "remove", dd, c, "broken")
	if err == nil || !strings.Contains(err.Error(), "policies[broken]") {
		t.Fatalf("remove of an unusable SP a policy names: %v\n%s", err, out)
	}
	if out, err := run(t, "saml", "list", dd, c); err != nil || !strings.Contains(out, "UNUSABLE") {
		t.Fatalf("the unusable SP a policy names was removed: %v\n%s", err, out)
	}
	write("")
	if out, err := run(t, "saml", "remove", dd, c, "broken"); err != nil {
		t.Fatalf("remove once the policy is gone: %v\n%s", err, out)
	}
}

// TestSAMLCLIExpiredMetadata (review s19 X19-3): `saml register` refuses metadata whose
// validUntil has passed, saying when it expired, and stores nothing; an SP stored while its
// metadata was valid whose validUntil has passed since is listed by `saml list` as unusable,
// with that reason. Before, both were taken and served.
func TestSAMLCLIExpiredMetadata(t *testing.T) {
	dir := t.TempDir()
	dd := "--data-dir=" + dir
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	md := func(entityID string) []byte {
		return []byte(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="` + entityID + `" validUntil="` + past.Format(time.RFC3339) + `">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + entityID + `/acs" index="1"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`)
	}
	file := filepath.Join(t.TempDir(), "old.xml")
	if err := os.WriteFile(file, md("https://old.example.org"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := "expired at " + past.Format(time.RFC3339)
	if out, err := run(t, "saml", "register", dd, "--id", "old", "--metadata-file", file); err == nil || !strings.Contains(out+err.Error(), want) {
		t.Fatalf("register of expired metadata: %v\n%s", err, out)
	}
	// Stored before it expired (as the store keeps it), listed since.
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const lapsed = "https://lapsed.example.org"
	rec, err := saml.Record(config.SAMLServiceProvider{ID: "lapsed"}, md(lapsed), lapsed, past.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSAMLServiceProvider(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	// Still served (listed in the table, not UNUSABLE), and named after it.
	out, err := run(t, "saml", "list", dd)
	if err != nil || strings.Contains(out, "old") || strings.Contains(out, "UNUSABLE") || !strings.Contains(out, "lapsed") ||
		!strings.Contains(out, "expired lapsed ("+lapsed+"): metadata "+want+" (its validUntil); still served") ||
		!strings.Contains(out, "ssobridge saml refresh lapsed --metadata-url") {
		t.Fatalf("list with an SP whose metadata expired: %v\n%s", err, out)
	}
}

// TestSAMLListSaysWhichUnusableSPGetsLogouts (M3's note, session 22): `saml list` says of an
// unusable SP whether it still gets its members' single logouts: one refused by a rule of
// sign-ins (an http ACS on another host) does, one whose metadata does not read does not.
func TestSAMLListSaysWhichUnusableSPGetsLogouts(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const refused, broken = "https://old.example.org/saml/metadata", "https://broken.example.org"
	httpACS := strings.ReplaceAll(string(spMetadata(t, "https://old.example.org")),
		`Location="https://old.example.org/saml/acs"`, `Location="http://old.example.org/saml/acs"`)
	for _, r := range []struct {
		id, entity, md string
	}{{"old", refused, httpACS}, {"broken", broken, "<EntityDescriptor"}} {
		rec, err := saml.Record(config.SAMLServiceProvider{ID: r.id}, []byte(r.md), r.entity, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateSAMLServiceProvider(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	out, err := run(t, "saml", "list", "--data-dir="+dir)
	if err != nil {
		t.Fatalf("list: %v\n%s", err, out)
	}
	line := func(id string) string {
		for l := range strings.Lines(out) {
			if strings.HasPrefix(l, "unusable "+id+" ") {
				return l
			}
		}
		t.Fatalf("no unusable line for %s:\n%s", id, out)
		return ""
	}
	if l := line("old"); !strings.Contains(l, "still gets its members' single logouts") || !strings.Contains(l, "saml refresh old") {
		t.Errorf("the SP refused for sign-ins: %q", l)
	}
	if l := line("broken"); !strings.Contains(l, "gets no single logouts") {
		t.Errorf("the SP that does not read: %q", l)
	}
}

// TestMetadataURLLoopback: --metadata-url takes http only on a loopback host, by the
// configuration's rule (config.LoopbackHost): localhost in any case (RFC 4343), 127.0.0.0/8, ::1.
func TestMetadataURLLoopback(t *testing.T) {
	for raw, want := range map[string]bool{
		"https://sp.example.org/md": true, "http://localhost:8080/md": true, "http://LocalHost/md": true,
		"http://127.0.0.2/md": true, "http://[::1]:9/md": true, "http://sp.example.org/md": false,
		"http://localhost.example.org/md": false, "ftp://localhost/md": false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := metadataURLAllowed(u); got != want {
			t.Errorf("metadataURLAllowed(%s) = %v, want %v", raw, got, want)
		}
	}
}
