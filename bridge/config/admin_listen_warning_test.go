package config

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestAdminListenBeyondLoopbackWarns: the admin API is plain HTTP; listening beyond loopback is
// allowed (a TLS proxy in front) but said at start-up, naming admin.listen and never the token.
func TestAdminListenBeyondLoopbackWarns(t *testing.T) {
	for _, tc := range []struct {
		listen string
		warn   bool
	}{
		{"127.0.0.1:8081", false}, {"[::1]:8081", false}, {"localhost:8081", false},
		{"0.0.0.0:8081", true}, {":8081", true}, {"10.1.2.3:8081", true}, {"[::]:8081", true},
	} {
		c := Defaults()
		c.Admin.Listen = tc.listen
		c.Admin.Token = strings.Repeat("t", 40)
		var buf bytes.Buffer
		if _, err := c.Check(slog.New(slog.NewTextHandler(&buf, nil))); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if got := strings.Contains(out, "field=admin.listen"); got != tc.warn {
			t.Errorf("admin.listen %s: warned %v, want %v:\n%s", tc.listen, got, tc.warn, out)
		}
		if strings.Contains(out, c.Admin.Token) {
			t.Errorf("the token is in the log:\n%s", out)
		}
	}
	c := Defaults()
	c.Admin.Listen = "0.0.0.0:8081" // no token: the admin API is off
	var buf bytes.Buffer
	if _, err := c.Check(slog.New(slog.NewTextHandler(&buf, nil))); err != nil || strings.Contains(buf.String(), "admin.listen") {
		t.Errorf("admin API off: %v %s", err, buf.String())
	}
}
