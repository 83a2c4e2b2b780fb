package bridge_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestHealthMethods (review s21 X2-2): /healthz, /readyz and op's /ready answer GET and HEAD
// (HEAD without a body) and refuse every other method 405 with an Allow header that names GET
// and HEAD; /healthz and /ready used to answer 200 to PUT, DELETE and TRACE.
func TestHealthMethods(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/healthz", "/readyz", "/ready"} {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodTrace, http.MethodPost} {
			req, err := http.NewRequest(method, e.issuer+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch method {
			case http.MethodGet:
				if resp.StatusCode != http.StatusOK || len(body) == 0 {
					t.Errorf("GET %s: %d, %d bytes", path, resp.StatusCode, len(body))
				}
			case http.MethodHead:
				if resp.StatusCode != http.StatusOK || len(body) != 0 {
					t.Errorf("HEAD %s: %d, %d bytes", path, resp.StatusCode, len(body))
				}
			default:
				allow := resp.Header.Get("Allow")
				if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(allow, "GET") || !strings.Contains(allow, "HEAD") ||
					strings.Contains(allow, "TRACE") || strings.Contains(allow, "PUT") {
					t.Errorf("%s %s: %d, Allow %q; want 405 naming GET and HEAD only", method, path, resp.StatusCode, allow)
				}
			}
		}
	}
}
