package main

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// editMetadata is md (spMetadata's) changed by edit.
func editMetadata(t *testing.T, md []byte, edit func(*crewjam.EntityDescriptor)) []byte {
	t.Helper()
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(md, &ed); err != nil {
		t.Fatal(err)
	}
	edit(&ed)
	b, err := xml.Marshal(&ed)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// onlyEncryption is an SP's metadata with its encryption certificate alone (an SP that signs
// nothing).
func onlyEncryption(t *testing.T) []byte {
	t.Helper()
	return editMetadata(t, spMetadata(t, "https://lms.example.org/"), func(ed *crewjam.EntityDescriptor) {
		d := &ed.SPSSODescriptors[0]
		var keys []crewjam.KeyDescriptor
		for _, k := range d.KeyDescriptors {
			if k.Use == "encryption" {
				keys = append(keys, k)
			}
		}
		d.KeyDescriptors = keys
	})
}

// TestSAMLCLIRefreshSays (brief s21 M3 item 2): `saml refresh` names the SP's signing and
// encryption certificates apart, each against the stored metadata's, and says what changed:
// the certificates of an SP that only encrypts (before: "no certificates", its built metadata
// leaves out an encryption certificate it does not use), only its validUntil, or nothing the
// bridge uses (the document differs elsewhere); the same document again changes nothing. The
// audit row says the same. A metadata that lists NameID formats without the one the SP is sent
// gets a note: name_id_format is the registration's, not the metadata's, and refresh keeps it.
func TestSAMLCLIRefreshSays(t *testing.T) {
	dir := t.TempDir()
	dd := "--data-dir=" + filepath.Join(dir, "data")
	const entity = "https://lms.example.org/saml/metadata"
	file := filepath.Join(dir, "lms.xml")
	write := func(md []byte) {
		t.Helper()
		if err := os.WriteFile(file, md, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	first := onlyEncryption(t)
	write(first)
	if out, err := run(t, "saml", "register", dd, "--id", "lms", "--metadata-file", file); err != nil {
		t.Fatalf("register: %v\n%s", err, out)
	}
	refresh := func(md []byte) string {
		t.Helper()
		write(md)
		out, err := run(t, "saml", "refresh", dd, "lms", "--metadata-file", file)
		if err != nil {
			t.Fatalf("refresh: %v\n%s", err, out)
		}
		return out
	}
	fp := `[0-9a-f]{16}`
	wants := func(out string, lines ...string) {
		t.Helper()
		for _, l := range lines {
			if !regexp.MustCompile(l).MatchString(out) {
				t.Fatalf("refresh said:\n%s\nwant a line matching %q", out, l)
			}
		}
		if strings.Contains(out, "no certificates") {
			t.Fatalf("refresh said:\n%s", out)
		}
	}

	// A new encryption certificate; the same validUntil.
	until := regexp.MustCompile(`validUntil="[^"]*"`).Find(first)
	rolled := regexp.MustCompile(`validUntil="[^"]*"`).ReplaceAll(onlyEncryption(t), until)
	out := refresh(rolled)
	if strings.Contains(out, "note:") {
		t.Fatalf("a note for an SP that lists the transient format (which it gets when it asks):\n%s", out)
	}
	wants(out,
		`(?m)^refreshed lms \(`+regexp.QuoteMeta(entity)+`\): changed: encryption certificates$`,
		`(?m)^  signing certificates: none \(unchanged\)$`,
		`(?m)^  encryption certificates: `+fp+` \(was `+fp+`\)$`,
		`(?m)^  assertion consumer services: HTTP-POST https://lms.example.org/saml/acs, .* \(unchanged\)$`,
		`(?m)^  single logout services: none \(unchanged\)$`,
		`(?m)^  NameID formats listed: `+regexp.QuoteMeta(string(crewjam.TransientNameIDFormat))+` \(unchanged\)$`,
		`(?m)^  validUntil: 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ \(unchanged\)$`)

	// Only its validUntil.
	later := regexp.MustCompile(`validUntil="[^"]*"`).ReplaceAll(rolled, []byte(`validUntil="2099-01-01T00:00:00Z"`))
	wants(refresh(later), `(?m)^refreshed lms \(.*\): only its validUntil changed$`,
		`(?m)^  validUntil: 2099-01-01T00:00:00Z \(was 20\d\d-.*\)$`, `(?m)^  encryption certificates: `+fp+` \(unchanged\)$`)

	// The same content in another document (a comment): nothing the bridge uses changed.
	wants(refresh(append(append([]byte{}, later...), "\n<!-- published again -->\n"...)),
		`(?m)^refreshed lms \(.*\): nothing the bridge uses changed \(the document differs elsewhere\)$`)
	// The same document: nothing written.
	if out := refresh(append(append([]byte{}, later...), "\n<!-- published again -->\n"...)); !strings.Contains(out, "nothing changed") || strings.Contains(out, "refreshed") {
		t.Fatalf("the same document again:\n%s", out)
	}

	// It now lists only the e-mail NameID format: noted, name_id_format kept.
	email := editMetadata(t, later, func(ed *crewjam.EntityDescriptor) {
		ed.SPSSODescriptors[0].NameIDFormats = []crewjam.NameIDFormat{crewjam.EmailAddressNameIDFormat}
	})
	out = refresh(email)
	wants(out, `(?m)^refreshed lms \(.*\): changed: NameID formats listed$`,
		`(?m)^  NameID formats listed: `+regexp.QuoteMeta(string(crewjam.EmailAddressNameIDFormat))+` \(was .*\)$`,
		`(?m)^note: its metadata lists the NameID formats .*emailAddress, but it is sent `+regexp.QuoteMeta(string(crewjam.PersistentNameIDFormat))+`: its name_id_format, set at registration`)
	if list, err := run(t, "saml", "list", dd); err != nil || !strings.Contains(list, "persistent") {
		t.Fatalf("list after the refresh: %v\n%s", err, list)
	}

	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "data", "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ev, err := st.AuditEvents(context.Background(), store.AuditFilter{Event: "admin.saml_sp_refresh"})
	if err != nil || len(ev) != 4 {
		t.Fatalf("audit rows: %+v, %v; want 4", ev, err)
	}
	var details []string
	for _, e := range ev {
		details = append(details, e.Detail)
	}
	all := strings.Join(details, "\n")
	for _, want := range []string{
		entity + ": metadata replaced; changed: encryption certificates; signing certificates: none (unchanged); encryption certificates: ",
		entity + ": metadata replaced; only its validUntil changed; ",
		entity + ": metadata replaced; nothing the bridge uses changed (the document differs elsewhere); ",
		entity + ": metadata replaced; changed: NameID formats listed; ",
	} {
		if !strings.Contains(all, want) {
			t.Fatalf("audit rows:\n%s\nwant one with %q", all, want)
		}
	}
}

// TestSAMLCLIMetadataURLRule (brief s21 M3 item 3): `saml register` and `saml refresh` read
// --metadata-url by the same rule: https anywhere (here: a TLS server the client trusts), plain
// http only on a loopback address (an SP on this machine: 127.0.0.1, ::1 or localhost), which
// no one on the network can see or change; plain http to any other host is refused before any
// request is made, and so is a redirect to it.
func TestSAMLCLIMetadataURLRule(t *testing.T) {
	dir := t.TempDir()
	dd := "--data-dir=" + filepath.Join(dir, "data")
	var md atomic.Pointer[[]byte]
	var fetched atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/md", func(w http.ResponseWriter, _ *http.Request) { fetched.Add(1); _, _ = w.Write(*md.Load()) })
	plain := httptest.NewServer(mux)
	defer plain.Close()
	secure := httptest.NewTLSServer(mux)
	defer secure.Close()
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(plain.URL, "127.0.0.1", "lms.example.org", 1)+"/md", http.StatusFound)
	})
	client := secure.Client()
	client.CheckRedirect = checkMetadataRedirect
	g := &globals{metadataClient: client}
	port := plain.URL[strings.LastIndex(plain.URL, ":")+1:]

	for i, tc := range []struct {
		url, refusal string
	}{
		{secure.URL + "/md", ""},
		{plain.URL + "/md", ""},
		{"http://localhost:" + port + "/md", ""},
		{"http://lms.example.org:" + port + "/md", "must be https (http only on a loopback address"},
		{"http://10.0.0.1:" + port + "/md", "must be https (http only on a loopback address"},
		{"ftp://127.0.0.1:" + port + "/md", "must be https (http only on a loopback address"},
		{secure.URL + "/away", "redirected to"},
	} {
		for _, verb := range []string{"register", "refresh"} {
			id := "sp" + string(rune('a'+i))
			doc := spMetadata(t, "https://"+id+".example.org/")
			md.Store(&doc)
			if verb == "refresh" {
				file := filepath.Join(dir, id+".xml")
				if err := os.WriteFile(file, spMetadata(t, "https://"+id+".example.org/"), 0o600); err != nil {
					t.Fatal(err)
				}
				if tc.refusal != "" { // register it from a file first
					if out, err := runWith(t, g, "saml", "register", dd, "--id", id, "--metadata-file", file); err != nil {
						t.Fatalf("register %s from a file: %v\n%s", id, err, out)
					}
				}
			}
			before := fetched.Load()
			args := []string{"saml", verb, dd, "--metadata-url", tc.url}
			if verb == "register" {
				args = append(args, "--id", id)
			} else {
				args = append(args, id)
			}
			out, err := runWith(t, g, args...)
			switch {
			case tc.refusal == "" && (err != nil || fetched.Load() != before+1):
				t.Errorf("%s %s: %v (fetched %d)\n%s", verb, tc.url, err, fetched.Load()-before, out)
			case tc.refusal != "" && (err == nil || !strings.Contains(err.Error(), tc.refusal)):
				t.Errorf("%s %s: %v\n%s; want a refusal with %q", verb, tc.url, err, out, tc.refusal)
			case tc.refusal != "" && tc.refusal != "redirected to" && fetched.Load() != before:
				t.Errorf("%s %s: refused after a request", verb, tc.url)
			}
		}
	}
}
