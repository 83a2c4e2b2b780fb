// Command floor is the HTTP floor of a load run: a plain net/http server that answers every
// request with 1.5 KB of JSON and one header (Content-Type). What it serves per second on one
// core is what net/http and the kernel allow there; discovery and JWKS are read against it.
//
// With -doc it answers as the bridge answers the discovery document in a load run (log.level
// warn), without the bridge: the document's size (2,055 bytes) and its six response headers
// (CORS, caching, entity tag, type, length, nosniff; no request id: at warn the request writes
// no log line for one to name), set in the handler's header map as the bridge sets them
// (shared values, no allocation). net/http handles each entry of that map several times per
// response (cloned when the status is written, iterated, looked up, sorted, validated,
// written), about 1,500 instructions an entry on Go 1.26 (callgrind), so this is the most the
// discovery document's response can reach through net/http on that core whatever the bridge's
// frame does; read discovery against both. Hit it at the document's path: the request line's
// path is parsed per request too. -doc-before adds the two headers the bridge sent until
// session 19 (Content-Security-Policy and X-Request-Id), to compare.
//
// With -sign it is the floor of a refresh grant instead: each request's form is parsed and one
// RS256 signature is made over a 700-byte payload, as an ID token's, and the answer echoes the
// refresh_token it was sent (so refresh.lua's chains go on). What it serves per second at c=16
// and c=64 is what net/http, the kernel and one Go RS256 signature allow on that core: the most a
// token endpoint that signs once per refresh can reach there, read next to the raw signing rate.
//
//	GOMAXPROCS=1 taskset -c 0 go run ./scripts/loadtest/floor -addr 127.0.0.1:18555 [-sign | -doc [-doc-before]]
package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"log"
	"net/http"
	"strconv"
	"strings"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18555", "listen address (keep it on 127.0.0.1)")
	sign := flag.Bool("sign", false, "answer like a token endpoint: parse the form, sign one RS256")
	doc := flag.Bool("doc", false, "answer like the discovery document: its size and its response headers")
	docBefore := flag.Bool("doc-before", false, "with -doc: also Content-Security-Policy and X-Request-Id (the bridge's answer until session 19)")
	flag.Parse()
	h := http.Handler(staticHandler())
	if *doc {
		h = documentHandler(*docBefore)
	}
	if *sign {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			log.Fatal(err)
		}
		h = signHandler(key)
	}
	log.Fatal(http.ListenAndServe(*addr, h))
}

func staticHandler() http.HandlerFunc {
	body := []byte(`{"pad":"` + strings.Repeat("x", 1489) + `"}`)
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}
}

// documentBytes is the size of the discovery document the bridge serves (with its newline).
const documentBytes = 2055

// documentHandler answers with a body of documentBytes and the discovery document's response
// headers as a load run gets them (sso's publicDoc and the router's frame at log.level warn:
// Access-Control-Allow-Origin, Cache-Control, Content-Type, Etag, X-Content-Type-Options;
// Content-Length, which sso's publicDoc sets itself for a body of 2 KiB or more: net/http
// counts only a shorter one; net/http adds Date), each value a shared slice assigned into the
// header map as the bridge assigns it. With before, also the two it sent until session 19:
// Content-Security-Policy and X-Request-Id (the same on every answer; the bridge's differed,
// what net/http does with them is the same).
func documentHandler(before bool) http.HandlerFunc {
	body := []byte(`{"pad":"` + strings.Repeat("x", documentBytes-len(`{"pad":""}`)-1) + "\"}\n")
	type header struct {
		name  string
		value []string
	}
	var headers []header
	if before {
		headers = append(headers, header{"X-Request-Id", []string{"Xq3v1Q9kAAAAAAAB"}},
			header{"Content-Security-Policy", []string{"default-src 'none'; frame-ancestors 'none'"}})
	}
	headers = append(headers, []header{
		{"X-Content-Type-Options", []string{"nosniff"}},
		{"Access-Control-Allow-Origin", []string{"*"}},
		{"Cache-Control", []string{"public, max-age=3600"}},
		{"Etag", []string{`"aEfMd2L88c_5y6yRKXoEb63_"`}},
		{"Content-Type", []string{"application/json"}},
	}...)
	if len(body) >= 2048 { // sso's serverCountsBelow
		headers = append(headers, header{"Content-Length", []string{strconv.Itoa(len(body))}})
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		for _, v := range headers {
			h[v.name] = v.value
		}
		_, _ = w.Write(body)
	}
}

// signHandler signs one RS256 JWS per request, as a refresh grant's ID token, and answers with
// the refresh_token of the request's form.
func signHandler(key *rsa.PrivateKey) http.HandlerFunc {
	enc := base64.RawURLEncoding
	signingInput := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." +
		enc.EncodeToString([]byte(`{"pad":"`+strings.Repeat("p", 500)+`"}`))
	access := strings.Repeat("a", 200)
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		digest := sha256.Sum256([]byte(signingInput))
		sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(`{"access_token":"` + access + `","token_type":"Bearer","expires_in":300,` +
			`"refresh_token":"` + r.PostForm.Get("refresh_token") + `","id_token":"` + signingInput + "." +
			enc.EncodeToString(sig) + `"}`))
	}
}
