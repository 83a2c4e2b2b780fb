package bridge_test

import (
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge"
)

// TestReadyzHeadWritesNothing (Q5 leftover, session 25): HEAD /readyz, on the public and the
// admin listener, answers as GET does (200, GET's Content-Length, no body) without a store
// write: its store check reads the watermark GET writes. Its answer is reused for HEADs only:
// a GET after a HEAD within health.cache_for still writes (a read is no proof that the store
// takes writes), and with cache_for 0 every GET writes and no HEAD does. Before, a HEAD wrote
// the watermark as GET does.
func TestReadyzHeadWritesNothing(t *testing.T) {
	type step struct {
		admin  bool
		method string
		writes bool
	}
	cases := []struct {
		name     string
		cacheFor time.Duration
		steps    []step
	}{
		{"no cache", 0, []step{
			{false, http.MethodHead, false}, {true, http.MethodHead, false},
			{false, http.MethodGet, true}, {true, http.MethodGet, true},
			{false, http.MethodHead, false}, {true, http.MethodHead, false},
		}},
		{"cached a minute", time.Minute, []step{
			{false, http.MethodHead, false}, {true, http.MethodHead, false},
			{false, http.MethodGet, true}, // not the HEADs' answer
			{true, http.MethodGet, false}, // the GET's, reused
			{false, http.MethodHead, false}, {true, http.MethodHead, false},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, withAdmin, func(c *bridge.Config) { c.Health.CacheFor = tc.cacheFor })
			admin := e.adminServer()
			writes := func() int64 { return e.store.WriteStats().Writes }
			length := map[bool]int{} // GET's body length per listener
			for i, s := range tc.steps {
				base, where := e.issuer, "public"
				if s.admin {
					base, where = admin.URL, "admin"
				}
				req, err := http.NewRequest(s.method, base+bridge.PathReadyz, nil)
				if err != nil {
					t.Fatal(err)
				}
				before := writes()
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				n := writes() - before
				what := strconv.Itoa(i+1) + ": " + s.method + " " + where + " /readyz"
				if res.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d %s", what, res.StatusCode, body)
				}
				if (n > 0) != s.writes {
					t.Errorf("%s: %d store writes, want writes %v", what, n, s.writes)
				}
				switch s.method {
				case http.MethodGet:
					length[s.admin] = len(body)
				case http.MethodHead:
					if len(body) != 0 {
						t.Errorf("%s: a body of %d bytes", what, len(body))
					}
					if want, ok := length[s.admin]; ok && res.ContentLength != int64(want) {
						t.Errorf("%s: Content-Length %d, GET's body %d bytes", what, res.ContentLength, want)
					}
				}
			}
		})
	}
}
