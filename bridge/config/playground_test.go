package config

import "testing"

// TestPlaygroundDefault: the playground (a trusted built-in public client, no consent page) is
// on by default only with a loopback issuer, the embedded-defaults development set-up; on any
// other issuer it is off unless playground: true (secure by default, session 14). Setting it
// wins either way.
func TestPlaygroundDefault(t *testing.T) {
	on, off := true, false
	for _, c := range []struct {
		issuer string
		set    *bool
		want   bool
	}{
		{Defaults().Issuer, nil, true},
		{"http://localhost:8080", nil, true},
		{"http://127.0.0.1:18260", nil, true},
		{"http://[::1]:8080", nil, true},
		{"https://localhost:8443", nil, true},
		{"https://sso.example.org", nil, false},
		{"https://sso.example.org/bridge", nil, false},
		{"https://10.0.0.5", nil, false},
		{"https://localhost.example.org", nil, false},
		{"https://sso.example.org", &on, true},
		{"http://localhost:8080", &off, false},
	} {
		cfg := Defaults()
		cfg.Issuer, cfg.Playground = c.issuer, c.set
		if got := cfg.PlaygroundEnabled(); got != c.want {
			t.Errorf("issuer %s, playground %v: enabled %v, want %v", c.issuer, deref(c.set), got, c.want)
		}
	}
}

func deref(b *bool) any {
	if b == nil {
		return "unset"
	}
	return *b
}
