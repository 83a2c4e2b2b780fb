package bridge_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func urlEscape(s string) string              { return url.QueryEscape(s) }
func stringsReader(s string) io.Reader       { return strings.NewReader(s) }
func join(parts []string, sep string) string { return strings.Join(parts, sep) }

// doJSON sends a request and decodes a JSON body (nil when the body is not JSON).
func doJSON(t testing.TB, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		m = map[string]any{"_raw": string(body)}
	}
	return resp, m
}

func getJSON(t testing.TB, u string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return doJSON(t, req)
}

func fmtAny(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
