package sso

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// publicDoc is a cacheable public document (discovery, JWKS) ready to write: its bytes, its
// entity tag and its response headers, built once per document. The header values are shared
// by every response (a slice of length and capacity 1: Header.Set replaces it, Header.Add
// copies it on append), so a response costs no allocation for them.
type publicDoc struct {
	src  []byte // the document as rendered (for the JWKS: the key manager's slice)
	body []byte
	etag string
	// header is set on every answer (200 and 304), content on a 200 (Content-Type), length
	// where net/http would not send the body's length itself (Content-Length).
	header, content []headerValue
	length          headerValue
	// serverLength: net/http sends the Content-Length of a GET's body (see serverCountsBelow).
	serverLength bool
}

// headerValue is one response header: its name in canonical form and its shared value.
type headerValue struct {
	name  string
	value []string
}

// serverCountsBelow: a body shorter than this, written in one piece by a handler that returns
// without flushing, is held in net/http's response buffer (2 KiB, bufferBeforeChunkingSize)
// until the handler returns, and net/http then sends its Content-Length itself (as its extra
// headers, without the handler's header map). A header fewer in that map is one entry fewer
// to insert, copy (the map is cloned when the status is written), sort and write on every
// response; the bytes on the wire are the same. Longer bodies, and HEAD (no body), carry
// their Content-Length from here. TestPublicDocsHeadersPinned (package bridge) reads the
// length off the wire.
const serverCountsBelow = 2048

// newPublicDoc prepares doc (JSON) for writing with cacheControl. The body ends in a newline,
// as op's JSON encoder wrote it.
func newPublicDoc(doc []byte, cacheControl string) *publicDoc {
	body := make([]byte, 0, len(doc)+1)
	body = append(append(body, doc...), '\n')
	sum := sha256.Sum256(body)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
	return &publicDoc{src: doc, body: body, etag: etag,
		header: []headerValue{
			{"Access-Control-Allow-Origin", []string{"*"}},
			{"Cache-Control", []string{cacheControl}},
			{"Etag", []string{etag}},
		},
		content:      []headerValue{{"Content-Type", []string{"application/json"}}},
		length:       headerValue{"Content-Length", []string{strconv.Itoa(len(body))}},
		serverLength: len(body) < serverCountsBelow,
	}
}

// serve writes the document for a GET or HEAD (any origin may read it, RFC 8414 and OIDC
// Discovery leave it public), 304 when If-None-Match names its entity tag (RFC 9110 13.1.2),
// 405 for any other method.
func (d *publicDoc) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "method not allowed")
		return
	}
	h := w.Header()
	for _, v := range d.header {
		h[v.name] = v.value
	}
	if inm, ok := r.Header["If-None-Match"]; ok && etagMatches(inm, d.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	for _, v := range d.content {
		h[v.name] = v.value
	}
	if r.Method == http.MethodHead {
		h[d.length.name] = d.length.value
		w.WriteHeader(http.StatusOK)
		return
	}
	if !d.serverLength {
		h[d.length.name] = d.length.value
	}
	_, _ = w.Write(d.body) // (the status, 200, with the first write)
}

// etagMatches reports whether the If-None-Match field values name etag: "*", or a listed tag
// equal to it under the weak comparison (RFC 9110 8.8.3.2, 13.1.2).
func etagMatches(values []string, etag string) bool {
	for _, v := range values {
		for v != "" {
			var tag string
			tag, v, _ = strings.Cut(v, ",")
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}

// publicDocs serves the discovery document and the JWKS from memory: the discovery document
// is rendered once, the JWKS once per key set (KeyManager.JWKS).
type publicDocs struct {
	p         *Provider
	discOnce  sync.Once
	discovery *publicDoc
	jwks      atomic.Pointer[publicDoc] // the last key set's document
}

// Cache lifetimes of the public documents.
const (
	discoveryCacheControl = "public, max-age=3600"
	jwksCacheControl      = "public, max-age=300"
)

// discoveryDoc is the rendered discovery document (discovery.go); ctx carries nothing it
// needs but is op's way to ask for it.
func (d *publicDocs) discoveryDoc(ctx context.Context) *publicDoc {
	d.discOnce.Do(func() {
		doc, err := json.Marshal(d.p.discoveryDocument(ctx))
		if err != nil {
			panic(fmt.Sprintf("sso: discovery document: %v", err)) // a plain struct always marshals
		}
		d.discovery = newPublicDoc(doc, discoveryCacheControl)
	})
	return d.discovery
}

// jwksDoc is the current key set's document: rebuilt at the first request after the key
// manager's document changed (a rotation or a reload), so a new key is published at once.
func (d *publicDocs) jwksDoc() *publicDoc {
	doc, _ := d.p.keys.JWKS()
	if cur := d.jwks.Load(); cur != nil && sameBytes(cur.src, doc) {
		return cur
	}
	next := newPublicDoc(doc, jwksCacheControl)
	d.jwks.Store(next)
	return next
}

// sameBytes reports whether a and b are the same slice (the key manager renders a new one
// whenever its keys change); when they are not, it compares their contents.
func sameBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return string(a) == string(b)
}

// ServeDiscovery answers GET /.well-known/openid-configuration.
func (d *publicDocs) ServeDiscovery(w http.ResponseWriter, r *http.Request) {
	d.discoveryDoc(r.Context()).serve(w, r)
}

// ServeJWKS answers GET /keys.
func (d *publicDocs) ServeJWKS(w http.ResponseWriter, r *http.Request) { d.jwksDoc().serve(w, r) }

// DiscoveryHandler serves the discovery document (OpenID Connect Discovery 1.0) from memory,
// with no per-request work beyond writing it: the bridge mounts it outside the provider's
// other routes.
func (p *Provider) DiscoveryHandler() http.Handler { return http.HandlerFunc(p.docs.ServeDiscovery) }

// JWKSHandler serves the JSON Web Key Set from memory, rendered once per key set.
func (p *Provider) JWKSHandler() http.Handler { return http.HandlerFunc(p.docs.ServeJWKS) }
