package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// TestClientsListUnusable (brief s21 Q2 item 5): `clients list` marks a stored client the
// bridge does not serve (an id of a member's subject's shape, c47103a) as unusable and says why
// and what to do; a served client is marked served.
func TestClientsListUnusable(t *testing.T) {
	const hexID = "0123456789abcdef0123456789abcdef01234567"
	dir := t.TempDir()
	if out, err := run(t, "clients", "add", "--data-dir="+dir, "--id", "portal", "--redirect-uri", "https://portal.example.org/cb"); err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := sso.EncodeClient(&sso.ClientConfig{ID: hexID, Name: "Old App", SecretHash: sso.HashSecret("s"),
		RedirectURIs: []string{"https://old.example.org/cb"}}, time.Now())
	if err == nil {
		err = st.CreateClient(ctx, sc)
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "clients", "list", "--data-dir="+dir)
	if err != nil {
		t.Fatalf("list: %v\n%s", err, out)
	}
	row := func(id string) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, id+" ") {
				return l
			}
		}
		t.Fatalf("no row for %s:\n%s", id, out)
		return ""
	}
	if f := strings.Fields(row(hexID)); !strings.Contains(strings.Join(f, " "), " unusable ") {
		t.Fatalf("the unusable client's row: %q\n%s", row(hexID), out)
	}
	if !strings.Contains(row("portal"), " served ") {
		t.Fatalf("a served client's row: %q", row("portal"))
	}
	if !strings.Contains(out, hexID+" is unusable: this client's id has the shape of a member's subject") ||
		!strings.Contains(out, "ssobridge clients remove "+hexID) {
		t.Fatalf("no reason or remedy for the unusable client:\n%s", out)
	}
}
