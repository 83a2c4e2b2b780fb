package session

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxFormBody is the largest url-encoded body parsed here. The buffer is made at the declared
// length before any of the body has arrived, so the bound is what a client may make the server
// hold per connection while it trickles the body in (review s22 X-5: at the frame's 1 MB, an
// anonymous post declaring 1 MB held 1 MB for the read timeout). The bridge's own forms are a few
// hundred bytes; a larger body is left to net/http, whose buffer grows with what arrives.
const maxFormBody = 16 << 10

// maxFormPairs bounds the fields parsed here; a body with more is left to net/http, which has
// its own bound (GODEBUG urlmaxqueryparams).
const maxFormPairs = 256

// errNotAtEnd is a body longer than its declared length.
var errNotAtEnd = errors.New("session: form body longer than its length")

// parseForm parses the url-encoded body of a form post into the request's PostForm and Form as
// net/http's ParseForm does (the same fields, values and order; a field with a ';', an empty
// name or a bad escape left out), with one map shared by both and one array under the values:
// net/http allocates two maps and two slices per field, and ParseMultipartForm parses the
// Content-Type again first. It handles the posts of the bridge's own forms only (POST,
// Content-Type application/x-www-form-urlencoded, a known length, no query in the URL, so that
// Form is PostForm); any other request is left as it is, for net/http to parse when the form is
// first read.
func parseForm(r *http.Request) {
	if r.Form != nil || r.PostForm != nil || r.Method != http.MethodPost || r.URL == nil || r.URL.RawQuery != "" ||
		r.Body == nil || r.ContentLength < 0 || r.ContentLength > maxFormBody ||
		r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		return
	}
	buf := make([]byte, r.ContentLength)
	n, err := io.ReadFull(r.Body, buf)
	if err == nil {
		// The body ends where its length says (a server's body does): else net/http reads on.
		var more [1]byte
		var m int
		m, err = r.Body.Read(more[:])
		if m > 0 {
			buf, n, err = append(buf, more[0]), n+1, errNotAtEnd
		} else if err == io.EOF {
			err = nil
		}
	}
	amps := bytes.Count(buf, []byte("&"))
	if err != nil || amps >= maxFormPairs {
		// A body cut short or longer than said, or many fields: net/http parses the same
		// bytes and meets the same end (its answer to a read error: an empty form).
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf[:n]), r.Body), r.Body}
		return
	}
	body, pairs := string(buf), amps+1
	form := make(url.Values, pairs)
	values := make([]string, 0, pairs)
	for rest := body; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			continue
		}
		if v, err = url.QueryUnescape(v); err != nil {
			continue
		}
		if vs, ok := form[k]; ok {
			form[k] = append(vs, v)
			continue
		}
		values = append(values, v)
		form[k] = values[len(values)-1 : len(values) : len(values)]
	}
	r.PostForm, r.Form = form, form
}
