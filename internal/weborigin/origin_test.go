package weborigin

import "testing"

func TestParse(t *testing.T) {
	for _, c := range []struct {
		raw, want string
		ok        bool
	}{
		{"https://sso.example.org", "https://sso.example.org", true},
		{"https://sso.example.org/", "https://sso.example.org", true},
		{"https://sso.example.org:443/path?q=1", "https://sso.example.org", true},
		{"http://sso.example.org:80", "http://sso.example.org", true},
		{"HTTPS://SSO.Example.ORG", "https://sso.example.org", true},
		{"https://sso.example.org:8443", "https://sso.example.org:8443", true},
		{"http://sso.example.org:443", "http://sso.example.org:443", true},
		{"https://sso.example.org:80", "https://sso.example.org:80", true},
		{"http://127.0.0.1:18080", "http://127.0.0.1:18080", true},
		{"https://[::1]:443", "https://[::1]", true},
		{"http://[::1]:8080", "http://[::1]:8080", true},
		{"/relative", "", false},
		{"https://", "", false},
		{"%zz", "", false},
	} {
		got, ok := Parse(c.raw)
		if got != c.want || ok != c.ok {
			t.Errorf("Parse(%q) = %q, %v; want %q, %v", c.raw, got, ok, c.want, c.ok)
		}
	}
}
