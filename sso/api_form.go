package sso

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// apiBody bounds an API request's body to maxFormBytes before parseForm reads it: through
// http.MaxBytesReader (which also has net/http close the connection once the bound is passed)
// when the body's length is not declared or is declared past the bound; a body declared
// within the bound is read through net/http's own reader, which stops at the declared
// length, so the wrapper (an allocation and a layer on every read) is left out, and parseForm
// refuses past the bound whatever the body.
func apiBody(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength < 0 || r.ContentLength > maxFormBytes {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
}

// parseForm is r.ParseForm for an API request whose Content-Type serveAPI has checked
// (application/x-www-form-urlencoded, parameters allowed) and whose body is bounded
// (apiBody; it refuses a body past maxFormBytes itself too): the body is read into a pooled buffer and parsed as net/http's
// parsePostForm parses it (url.ParseQuery of the whole body, the first error returned, what
// parsed kept), and r.Form is r.PostForm itself instead of a copy merged with the query: an API
// request with a query is refused right after (serveAPI). A Content-Type with parameters is
// still parsed as net/http parses it, so that a malformed one is refused as before.
func (p *Provider) parseForm(r *http.Request, ct string) error {
	if strings.IndexByte(ct, ';') >= 0 {
		if _, _, err := mime.ParseMediaType(ct); err != nil {
			return err
		}
	}
	if r.PostForm != nil {
		if r.Form == nil {
			r.Form = r.PostForm
		}
		return nil
	}
	bp := p.responses.payload()
	defer p.responses.putPayload(bp)
	b := *bp
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > maxFormBytes {
			// The bound holds whatever the body: apiBody leaves out MaxBytesReader when the
			// declared length is within it (net/http's body stops there).
			*bp = b[:0]
			return &http.MaxBytesError{Limit: maxFormBytes}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			*bp = b[:0]
			return err
		}
	}
	*bp = b[:0]
	vs, err := parseQuery(string(b))
	r.PostForm, r.Form = vs, vs
	return err
}

// parseQuery is url.ParseQuery. A body of at most 8 parameters without a semicolon (every
// token request's) is parsed here into a map sized for them, the first value of each key in
// one shared array (cap 1 each: a repeated key's append copies), instead of a slice per key
// and a map grown from empty; anything else goes to url.ParseQuery (its semicolon error, its
// limit on the number of parameters). TestParseFormMatchesNetHTTP compares both.
func parseQuery(body string) (url.Values, error) {
	n := strings.Count(body, "&") + 1
	if n > 8 || strings.IndexByte(body, ';') >= 0 {
		return url.ParseQuery(body)
	}
	m := make(url.Values, n)
	firsts := make([]string, n)
	var err error
	for q := body; q != ""; {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err1 := url.QueryUnescape(k)
		if err1 != nil {
			if err == nil {
				err = err1
			}
			continue
		}
		if v, err1 = url.QueryUnescape(v); err1 != nil {
			if err == nil {
				err = err1
			}
			continue
		}
		if vs, ok := m[k]; ok {
			m[k] = append(vs, v)
			continue
		}
		firsts[0] = v
		m[k] = firsts[:1:1]
		firsts = firsts[1:]
	}
	return m, err
}
