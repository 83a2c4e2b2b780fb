package saml

import (
	"testing"

	"github.com/ssobridge/ssobridge/bridge/outbox"
)

func soapAnswer(inner string) []byte {
	return []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + inner + `</soap:Body></soap:Envelope>`)
}

func logoutResponse(inResponseTo, status string) string {
	return `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="r1" InResponseTo="` + inResponseTo +
		`" Version="2.0"><samlp:Status><samlp:StatusCode Value="` + status + `"/></samlp:Status></samlp:LogoutResponse>`
}

// TestLogoutStatus: how an SP's answer to a back-channel LogoutRequest settles its delivery.
func TestLogoutStatus(t *testing.T) {
	const ok, retry, final = "delivered", "retry", "final"
	for _, c := range []struct {
		name string
		body []byte
		want string
	}{
		{"success", soapAnswer(logoutResponse("id-1", "urn:oasis:names:tc:SAML:2.0:status:Success")), ok},
		{"requester", soapAnswer(logoutResponse("id-1", "urn:oasis:names:tc:SAML:2.0:status:Requester")), final},
		{"responder", soapAnswer(logoutResponse("id-1", "urn:oasis:names:tc:SAML:2.0:status:Responder")), retry},
		{"partial", soapAnswer(logoutResponse("id-1", "urn:oasis:names:tc:SAML:2.0:status:PartialLogout")), retry},
		{"another request", soapAnswer(logoutResponse("id-2", "urn:oasis:names:tc:SAML:2.0:status:Success")), final},
		{"fault", soapAnswer(`<soap:Fault><faultcode>soap:Server</faultcode></soap:Fault>`), retry},
		{"no status", soapAnswer(`<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" InResponseTo="id-1"/>`), retry},
		{"not xml", []byte("ok"), retry},
		{"empty", nil, retry},
		{"bare response", []byte(logoutResponse("id-1", "urn:oasis:names:tc:SAML:2.0:status:Success")), retry},
	} {
		err := logoutStatus(c.body, "id-1")
		got := ok
		if err != nil {
			got = retry
			if outbox.IsPermanent(err) {
				got = final
			}
		}
		if got != c.want {
			t.Errorf("%s: %s (%v), want %s", c.name, got, err, c.want)
		}
	}
}

// FuzzLogoutStatus: an SP's answer never panics the reader.
func FuzzLogoutStatus(f *testing.F) {
	f.Add(soapAnswer(logoutResponse("id-1", "urn:oasis:names:tc:SAML:2.0:status:Success")))
	f.Add([]byte("<a><b/></a>"))
	f.Fuzz(func(t *testing.T, b []byte) { _ = logoutStatus(b, "id-1") })
}
