package bridge_test

import (
	"io"
	"net/http"
	"testing"
)

// TestSAMLMetadataHead (review s21 X2-1): the IdP's metadata answers HEAD as it answers GET,
// without a body (RFC 9110 9.3.2); SP tooling and monitors probe metadata with HEAD, and it got
// 405 with an Allow header that did not name HEAD.
func TestSAMLMetadataHead(t *testing.T) {
	e := newEnv(t)
	get, err := http.Get(e.issuer + "/saml/metadata")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(get.Body)
	get.Body.Close()
	head, err := http.Head(e.issuer + "/saml/metadata")
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := io.ReadAll(head.Body)
	head.Body.Close()
	if get.StatusCode != http.StatusOK || head.StatusCode != http.StatusOK {
		t.Fatalf("GET %d, HEAD %d: want 200 both", get.StatusCode, head.StatusCode)
	}
	if len(hb) != 0 || len(body) == 0 {
		t.Fatalf("HEAD body %d bytes (want 0), GET body %d bytes", len(hb), len(body))
	}
	if g, h := get.Header.Get("Content-Type"), head.Header.Get("Content-Type"); g != h {
		t.Fatalf("Content-Type: GET %q, HEAD %q", g, h)
	}
}
