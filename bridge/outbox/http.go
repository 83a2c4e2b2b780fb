package outbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbound"
)

// Sender sends the deliverers' HTTP requests.
type Sender struct {
	client  *http.Client
	timeout time.Duration
}

// NewSender returns a Sender bounding each request by timeout. client nil: an outbound
// client that never follows redirects and refuses internal addresses (outbound.New).
func NewSender(client *http.Client, timeout time.Duration) *Sender {
	if client == nil {
		client = outbound.New(outbound.Options{})
	}
	return &Sender{client: client, timeout: timeout}
}

// Senders are the two Senders of URLs an app supplied: Public for every app (its dialer
// refuses internal addresses), Internal for the apps whose operator allowed them internal
// targets. They are two clients, not one with a switch, so that no connection one made is
// reused by the other.
type Senders struct {
	Public, Internal *Sender
}

// NewSenders returns the Senders of outbound clients built with o (its AllowInternal
// ignored), bounding each request by timeout.
func NewSenders(timeout time.Duration, o outbound.Options) Senders {
	o.AllowInternal = false
	public := outbound.New(o)
	o.AllowInternal = true
	return Senders{Public: NewSender(public, timeout), Internal: NewSender(outbound.New(o), timeout)}
}

// For is the Sender of an app: Internal when allowInternal, else Public.
func (s Senders) For(allowInternal bool) *Sender {
	if allowInternal {
		return s.Internal
	}
	return s.Public
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
	if refused := (*outbound.RefusedError)(nil); errors.As(err, &refused) {
		// Sending again will not help: the app's URL leads to an internal address.
		return nil, nil, Permanent("%s %s: %v", method, redact(u), refused)
	}
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
