package sso

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// parseForm is r.ParseForm for an API request whose Content-Type serveAPI has checked
// (application/x-www-form-urlencoded, parameters allowed) and whose body is bounded
// (MaxBytesReader): the body is read into a pooled buffer and parsed as net/http's
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
		if err == io.EOF {
			break
		}
		if err != nil {
			*bp = b[:0]
			return err
		}
	}
	*bp = b[:0]
	vs, err := url.ParseQuery(string(b))
	r.PostForm, r.Form = vs, vs
	return err
}
