package outbox

import (
	"fmt"
	"net/url"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// CheckURL checks a target's URL: absolute, https (http only for localhost), without
// credentials or fragment.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("must be an absolute URL without credentials or fragment")
	}
	if u.Scheme == "https" {
		return nil
	}
	if _, loop := op.HTTPLoopbackOrLocalhost(raw); u.Scheme == "http" && loop {
		return nil
	}
	return fmt.Errorf("must use https (http only for localhost)")
}
