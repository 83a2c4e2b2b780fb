package outbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
)

// Sender sends the deliverers' HTTP requests.
type Sender struct {
	client  *http.Client
	timeout time.Duration
}

// NewSender returns a Sender bounding each request by timeout. client nil: a client that
// never follows redirects.
func NewSender(client *http.Client, timeout time.Duration) *Sender {
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Sender{client: client, timeout: timeout}
}

const maxResponse = 256 << 10

// Do sends one request and reads at most 256 KiB of the answer. A transport failure is a
// retried error naming the method and the URL without its query.
func (s *Sender) Do(ctx context.Context, method, u string, header http.Header, body []byte) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, Permanent("build request: %v", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "ssobridge")
	resp, err := s.client.Do(req)
	if err != nil {
		// Never include the URL's query or a token: the error of net/http names the URL only.
		return nil, nil, Retry("%s %s: %v", method, redact(u), errors.Unwrap(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, nil, Retry("%s %s: read answer: %v", method, redact(u), err)
	}
	return resp, b, nil
}

// redact drops the query of a URL for messages.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}
