package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestSAMLCLIListShowsSettings (brief s25 S6 2): `saml list` has an INSECURE SOAP SLO column
// (allow_insecure_soap_slo, which `saml set` changes) beside NAMEID, for served SPs and for a
// stored SP refused for sign-ins whose settings still read (an SP registered before the https
// rule: the setting decides whether its members' sign-outs reach its plain-http endpoints), whose
// row showed "-" for every setting. A `saml set` shows in the next list. Before, the setting
// was in no listing.
func TestSAMLCLIListShowsSettings(t *testing.T) {
	dir := t.TempDir()
	dd := "--data-dir=" + dir
	for _, sp := range []struct {
		id    string
		extra []string
	}{{"lms", nil}, {"jobs", []string{"--allow-insecure-soap-slo"}}} {
		file := filepath.Join(t.TempDir(), sp.id+".xml")
		if err := os.WriteFile(file, spMetadata(t, "https://"+sp.id+".example.org/"), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := run(t, append([]string{"saml", "register", dd, "--id", sp.id, "--metadata-file", file}, sp.extra...)...); err != nil {
			t.Fatalf("register %s: %v\n%s", sp.id, err, out)
		}
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Registered before the https rule: refused for sign-ins now, its settings read.
	const old = "http://old.example.org/"
	rec, err := saml.Record(config.SAMLServiceProvider{ID: "oldapp", Name: "Old", NameIDFormat: "email", AllowInsecureSOAPSLO: true},
		spMetadata(t, old), old+"saml/metadata", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSAMLServiceProvider(ctx, rec); err != nil {
		t.Fatal(err)
	}

	rows := func() map[string]string {
		t.Helper()
		out, err := run(t, "saml", "list", dd)
		if err != nil {
			t.Fatalf("list: %v\n%s", err, out)
		}
		lines := strings.Split(out, "\n")
		if h := strings.Join(strings.Fields(lines[0]), " "); h != "ID NAME ENTITY ID NAMEID ENCRYPTED INSECURE SOAP SLO FROM" {
			t.Fatalf("header %q\n%s", h, out)
		}
		m := map[string]string{}
		for _, l := range lines[1:] {
			if f := strings.Fields(l); len(f) > 0 {
				m[f[0]] = strings.Join(f, " ")
			}
		}
		return m
	}
	m := rows()
	for id, want := range map[string]string{
		"lms":    "lms lms https://lms.example.org/saml/metadata persistent false false registered",
		"jobs":   "jobs jobs https://jobs.example.org/saml/metadata persistent false true registered",
		"oldapp": "oldapp Old http://old.example.org/saml/metadata email false true registered, UNUSABLE",
	} {
		if m[id] != want {
			t.Errorf("row %s: %q, want %q", id, m[id], want)
		}
	}
	if out, err := run(t, "saml", "set", "lms", dd, "--allow-insecure-soap-slo"); err != nil {
		t.Fatalf("set: %v\n%s", err, out)
	}
	if got, want := rows()["lms"], "lms lms https://lms.example.org/saml/metadata persistent false true registered"; got != want {
		t.Errorf("after saml set: %q, want %q", got, want)
	}
}
