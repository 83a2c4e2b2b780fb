package config

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestSecretWithPlusOrPercentWarns (review s10 V6): a client secret with '+' or '%' (half of
// what openssl rand -base64 makes) is accepted but warned about at start-up, naming the client
// and not the secret: a client sending it raw in a Basic header is refused (RFC 6749 2.3.1
// form-encoding). A secret without them, a hashed secret and a public client are not.
func TestSecretWithPlusOrPercentWarns(t *testing.T) {
	c := Defaults()
	plus := "AbC+dEf/0123456789abcdefghijklmnopq="
	pct := "abc%20def0123456789abcdefghijklmnopq"
	c.Clients = []Client{
		{ID: "plus", Secret: plus, RedirectURIs: []string{"https://a.example/cb"}},
		{ID: "pct", Secret: pct, RedirectURIs: []string{"https://b.example/cb"}},
		{ID: "hex", Secret: strings.Repeat("ab", 32), RedirectURIs: []string{"https://c.example/cb"}},
		{ID: "spa", Public: true, RedirectURIs: []string{"https://d.example/cb"}},
	}
	var buf bytes.Buffer
	if _, err := c.Check(slog.New(slog.NewTextHandler(&buf, nil))); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"field=clients[plus].secret", "field=clients[pct].secret"} {
		if !strings.Contains(out, want) {
			t.Errorf("no warning with %s in:\n%s", want, out)
		}
	}
	for _, not := range []string{"clients[hex]", "clients[spa]", plus, pct} {
		if strings.Contains(out, not) {
			t.Errorf("log has %q:\n%s", not, out)
		}
	}
}
