package sso_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// jwksKids fetches the JWKS and returns its key ids and entity tag.
func jwksKids(t *testing.T, h *harness) ([]string, string) {
	t.Helper()
	resp := h.get(sso.PathKeys)
	if resp.StatusCode != 200 {
		t.Fatalf("JWKS: %d", resp.StatusCode)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	slices.Sort(kids)
	return kids, resp.Header.Get("ETag")
}

// TestJWKSFollowsRotation: the JWKS is served from memory, yet a rotation (or a replica's
// reload of another's rotation) is published by the next request, under a new entity tag.
func TestJWKSFollowsRotation(t *testing.T) {
	h := newHarness(t)
	other := h.replica()
	before, tagBefore := jwksKids(t, h)
	if again, tag := jwksKids(t, h); !slices.Equal(again, before) || tag != tagBefore || tag == "" {
		t.Fatalf("two fetches differ: %v %q, %v %q", before, tagBefore, again, tag)
	}
	if seen, _ := jwksKids(t, other); !slices.Equal(seen, before) {
		t.Fatalf("replica publishes %v, want %v", seen, before)
	}
	// Rotate on h: every key is due a successor a year from now.
	keys := h.p.Keys()
	sso.SetKeyClock(keys, func() time.Time { return time.Now().Add(365 * 24 * time.Hour) })
	if err := keys.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	after, tagAfter := jwksKids(t, h)
	fresh := 0
	for _, kid := range after {
		if !slices.Contains(before, kid) {
			fresh++
		}
	}
	if fresh != 2 || tagAfter == tagBefore {
		t.Fatalf("after rotation: %v %q, before %v %q; want a new key per algorithm", after, tagAfter, before, tagBefore)
	}
	// The replica publishes the new keys once it reloads (with the old ones: its clock says
	// they have not expired).
	if err := other.p.Keys().Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	seen, tag := jwksKids(t, other)
	for _, kid := range after {
		if !slices.Contains(seen, kid) || tag == tagBefore {
			t.Fatalf("replica after reload: %v %q, want %v in it", seen, tag, after)
		}
	}
}

// TestPublicDocsConditional: discovery and JWKS carry an entity tag; If-None-Match naming it
// (alone, in a list, weak, or "*") answers 304 with the caching and CORS headers and no body;
// any other tag gets the document. HEAD gets the headers alone; other methods 405.
func TestPublicDocsConditional(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{sso.PathDiscovery, sso.PathKeys} {
		t.Run(path, func(t *testing.T) {
			full := h.get(path)
			body, _ := io.ReadAll(full.Body)
			etag := full.Header.Get("ETag")
			if full.StatusCode != 200 || len(etag) < 3 || etag[0] != '"' || len(body) == 0 ||
				full.Header.Get("Content-Length") == "" {
				t.Fatalf("GET: %d ETag %q, %d bytes", full.StatusCode, etag, len(body))
			}
			for _, tc := range []struct {
				name, ifNoneMatch string
				want              int
			}{
				{"same tag", etag, 304},
				{"weak", "W/" + etag, 304},
				{"in a list", `"other", ` + etag, 304},
				{"any", "*", 304},
				{"other tag", `"other"`, 200},
				{"empty", "", 200},
			} {
				t.Run(tc.name, func(t *testing.T) {
					var resp *http.Response
					if tc.ifNoneMatch == "" {
						resp = h.get(path)
					} else {
						resp = h.get(path, "If-None-Match", tc.ifNoneMatch)
					}
					got, _ := io.ReadAll(resp.Body)
					if resp.StatusCode != tc.want {
						t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
					}
					for _, k := range []string{"ETag", "Cache-Control", "Access-Control-Allow-Origin"} {
						if resp.Header.Get(k) != full.Header.Get(k) {
							t.Errorf("%s = %q, want %q", k, resp.Header.Get(k), full.Header.Get(k))
						}
					}
					if want := map[int]string{200: string(body), 304: ""}[tc.want]; string(got) != want {
						t.Errorf("body %q", got)
					}
				})
			}
			head := h.do(http.MethodHead, path, nil)
			if got, _ := io.ReadAll(head.Body); head.StatusCode != 200 || len(got) != 0 || head.Header.Get("ETag") != etag {
				t.Errorf("HEAD: %d %q %v", head.StatusCode, got, head.Header)
			}
			for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodOptions} {
				if r := h.do(m, path, nil); r.StatusCode != 405 || r.Header.Get("Allow") != "GET, HEAD" {
					t.Errorf("%s: %d Allow %q", m, r.StatusCode, r.Header.Get("Allow"))
				}
			}
		})
	}
}
