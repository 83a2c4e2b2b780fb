package imis_test

import (
	"slices"
	"testing"

	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/imis/token"
)

// TestWebsiteOriginsAsBrowsersSendThem (review s19 X19-1): the website's origins are compared
// with the Origin header of the iPart's POST (and of the AMS sign-out's link back), which a
// browser sends serialised as RFC 6454 section 6.1 says: lower-case scheme and host, and no
// port when it is the scheme's default. An ams.base_url or sso_url written with the default
// port (https://members.example.org:443/, as some iMIS installation guides show it) or in
// capitals must still give the origin browsers send, else every hand-off from the website is
// refused as coming from another site (403 foreign_origin) and /logout/ams asks to confirm.
func TestWebsiteOriginsAsBrowsersSendThem(t *testing.T) {
	for _, tc := range []struct {
		base, sso string
		want      []string
	}{
		{"https://members.example.org:443/", "https://Members.Example.org:443/SSO", []string{"https://members.example.org"}},
		{"http://members.example.org:80", "http://members.example.org/SSO", []string{"http://members.example.org"}},
		{"HTTPS://MEMBERS.EXAMPLE.ORG", "https://members.example.org:8443/SSO", []string{"https://members.example.org", "https://members.example.org:8443"}},
	} {
		w, err := imis.NewSite(imis.WebsiteConfig{Config: token.Config{BaseURL: tc.base, ClientID: "c", ClientSecret: "s"}, SSOURL: tc.sso})
		if err != nil {
			t.Fatal(err)
		}
		got := w.Website().Origins
		for _, o := range tc.want {
			if !slices.Contains(got, o) {
				t.Errorf("base_url %q, sso_url %q: origins %q lack %q (what a browser sends)", tc.base, tc.sso, got, o)
			}
		}
		for _, o := range got {
			if !slices.Contains(tc.want, o) {
				t.Errorf("base_url %q, sso_url %q: origin %q is not one a browser sends", tc.base, tc.sso, o)
			}
		}
	}
}
