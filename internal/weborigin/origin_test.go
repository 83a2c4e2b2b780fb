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
		// An internationalised host is sent in punycode (closing-s19 leftover, X): an
		// ams.base_url written in Unicode must give the Origin browsers send.
		{"https://bücher.example", "https://xn--bcher-kva.example", true},
		{"https://BÜCHER.example:443/sso", "https://xn--bcher-kva.example", true},
		{"https://b%C3%BCcher.example", "https://xn--bcher-kva.example", true},
		{"https://mitglieder.straße.example:8443", "https://mitglieder.xn--strae-oqa.example:8443", true},
		{"https://членство.пример.рф", "https://xn--b1afrjgqh9a.xn--e1afmkfd.xn--p1ai", true},
		{"https://xn--bcher-kva.example", "https://xn--bcher-kva.example", true},
		{"http://under_score.example", "http://under_score.example", true},
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
