package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestSignHandler checks the refresh floor does what a refresh's ID token costs: one RS256
// signature that verifies, and the refresh_token echoed so refresh.lua's chains go on.
func TestSignHandler(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"chain-7"}}
	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	signHandler(key)(rec, req)
	var got struct {
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("answer %q: %v", rec.Body, err)
	}
	if got.RefreshToken != "chain-7" {
		t.Errorf("refresh_token = %q, want the request's", got.RefreshToken)
	}
	i := strings.LastIndexByte(got.IDToken, '.')
	sig, err := base64.RawURLEncoding.DecodeString(got.IDToken[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(got.IDToken[:i]))
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("id_token signature: %v", err)
	}
}

// TestDocumentHandler: the document floor answers through net/http as the bridge answers the
// discovery document in a load run (log.level warn): a body of its size, the six headers of
// its header map (Content-Length among them: the document is over 2 KiB) and the one net/http
// adds (Date), and nothing else; with before, also the two the bridge sent until session 19.
func TestDocumentHandler(t *testing.T) {
	for _, before := range []bool{false, true} {
		srv := httptest.NewServer(documentHandler(before))
		resp, err := http.Get(srv.URL + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || len(body) != documentBytes || !json.Valid(body) {
			t.Fatalf("status %d, %d bytes (want %d of JSON)", resp.StatusCode, len(body), documentBytes)
		}
		want := []string{"Access-Control-Allow-Origin", "Cache-Control", "Content-Length", "Content-Type", "Date", "Etag",
			"X-Content-Type-Options"}
		if before {
			want = []string{"Access-Control-Allow-Origin", "Cache-Control", "Content-Length", "Content-Security-Policy",
				"Content-Type", "Date", "Etag", "X-Content-Type-Options", "X-Request-Id"}
		}
		if got := slices.Sorted(maps.Keys(resp.Header)); !slices.Equal(got, want) {
			t.Errorf("before=%v: headers %v, want %v", before, got, want)
		}
		if got := resp.Header.Get("Content-Length"); got != strconv.Itoa(documentBytes) {
			t.Errorf("Content-Length %s", got)
		}
	}
}
