package bridge_test

import (
	"io"
	"net/http"
	"testing"
)

// TestAdminOpsMethods (s23, left by Q4): on the admin listener /metrics, /healthz and /readyz
// answer GET and HEAD, and refuse every other method 405 naming GET and HEAD. Before, the admin
// API's catch-all took them (POST /healthz reached the token-protected API: 401, not 405).
func TestAdminOpsMethods(t *testing.T) {
	e := newEnv(t, withAdmin)
	admin := e.adminServer()
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete} {
			req, err := http.NewRequest(method, admin.URL+path, nil)
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
				if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
					t.Errorf("%s %s: %d, Allow %q; want 405, Allow GET, HEAD", method, path, resp.StatusCode, resp.Header.Get("Allow"))
				}
			}
		}
	}
}
