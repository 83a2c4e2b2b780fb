package token

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Body encodings of the token request.
const (
	// EncodingForm sends application/x-www-form-urlencoded, as OAuth2 and iMIS require.
	EncodingForm = "form"
	// EncodingJSON sends the same parameters as a JSON object (for AMS that want one).
	EncodingJSON = "json"
)

// Defaults applied by New (and by Config.WithDefaults) to fields left empty.
const (
	DefaultTimeout = 10 * time.Second
	DefaultRetries = 1
	// MaxRetries bounds Config.Retries.
	MaxRetries = 5
	// MaxResponseBytes is the largest token-endpoint response body read; larger answers are
	// treated as an unavailable AMS.
	MaxResponseBytes = 64 << 10
)

// Config is the token-endpoint client configuration. The bridge embeds it under `ams:` in its
// YAML and expands ${ENV} references (client_secret) before calling New.
type Config struct {
	// BaseURL is the AMS website root, e.g. https://members.example.org (iMIS: the site
	// root that serves /token, not /api).
	BaseURL string `yaml:"base_url"`
	// TokenURL overrides the token endpoint; default BaseURL + "/token".
	TokenURL string `yaml:"token_url"`
	// ClientID and ClientSecret are the client application registered in the AMS
	// (iMIS: Settings > Contacts > Client applications).
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// Timeout bounds one HTTP exchange (connect, TLS, request, response); default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// BodyEncoding of the request: "form" (default) or "json".
	BodyEncoding string `yaml:"body_encoding"`
	// Fields names the response JSON fields; empty entries take the OWIN/iMIS defaults.
	Fields Fields `yaml:"fields"`
	// InsecureSkipVerify turns TLS certificate verification off. For test sites only; New
	// logs a warning when it is set.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// CAFile is a PEM bundle of extra trusted CA certificates (for test sites with a private
	// CA: the safe alternative to InsecureSkipVerify).
	CAFile string `yaml:"ca_file"`
	// Retries is the number of extra attempts after a failure that is safe to retry
	// (see the package documentation); nil means DefaultRetries, 0 disables retries.
	Retries *int `yaml:"retries"`
}

// Fields names the fields of the token response.
type Fields struct {
	AccessToken  string `yaml:"access_token"`
	TokenType    string `yaml:"token_type"`
	ExpiresIn    string `yaml:"expires_in"`
	RefreshToken string `yaml:"refresh_token"`
	UserName     string `yaml:"user_name"`
	Issued       string `yaml:"issued"`
	Expires      string `yaml:"expires"`
}

// DefaultFields are the field names of the OWIN token endpoint iMIS runs.
var DefaultFields = Fields{
	AccessToken:  "access_token",
	TokenType:    "token_type",
	ExpiresIn:    "expires_in",
	RefreshToken: "refresh_token",
	UserName:     "userName",
	Issued:       ".issued",
	Expires:      ".expires",
}

func (f Fields) withDefaults() Fields {
	def := func(s *string, d string) {
		if strings.TrimSpace(*s) == "" {
			*s = d
		}
	}
	def(&f.AccessToken, DefaultFields.AccessToken)
	def(&f.TokenType, DefaultFields.TokenType)
	def(&f.ExpiresIn, DefaultFields.ExpiresIn)
	def(&f.RefreshToken, DefaultFields.RefreshToken)
	def(&f.UserName, DefaultFields.UserName)
	def(&f.Issued, DefaultFields.Issued)
	def(&f.Expires, DefaultFields.Expires)
	return f
}

// WithDefaults returns a copy of c with every empty optional field set to its default.
// It does not validate.
func (c Config) WithDefaults() Config {
	c.BaseURL = strings.TrimSpace(c.BaseURL)
	c.TokenURL = strings.TrimSpace(c.TokenURL)
	if c.TokenURL == "" && c.BaseURL != "" {
		c.TokenURL = strings.TrimRight(c.BaseURL, "/") + "/token"
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.BodyEncoding == "" {
		c.BodyEncoding = EncodingForm
	}
	c.BodyEncoding = strings.ToLower(c.BodyEncoding)
	c.Fields = c.Fields.withDefaults()
	if c.Retries == nil {
		n := DefaultRetries
		c.Retries = &n
	}
	return c
}

// Validate reports every configuration problem at once; each message names its field
// (for example "ams.base_url: must be an absolute http(s) URL"). It validates the
// configuration as New would use it, i.e. after WithDefaults.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("ams.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.BaseURL == "" {
		bad("base_url", "required (the AMS website root, e.g. https://members.example.org)")
	} else if msg := checkURL(c.BaseURL); msg != "" {
		bad("base_url", "%s", msg)
	}
	if c.TokenURL != "" {
		if msg := checkURL(c.TokenURL); msg != "" {
			bad("token_url", "%s", msg)
		}
	}
	if strings.TrimSpace(c.ClientID) == "" {
		bad("client_id", "required (the Client ID of the client application registered in the AMS)")
	}
	if c.ClientSecret == "" {
		bad("client_secret", "required (is the environment variable it references set?)")
	}
	if c.Timeout < 0 {
		bad("timeout", "must be positive, e.g. 10s")
	}
	if c.BodyEncoding != EncodingForm && c.BodyEncoding != EncodingJSON {
		bad("body_encoding", "must be %q or %q, not %q", EncodingForm, EncodingJSON, c.BodyEncoding)
	}
	if n := *c.Retries; n < 0 || n > MaxRetries {
		bad("retries", "must be between 0 and %d", MaxRetries)
	}
	for _, f := range []struct{ name, value string }{
		{"access_token", c.Fields.AccessToken},
		{"token_type", c.Fields.TokenType},
		{"expires_in", c.Fields.ExpiresIn},
		{"refresh_token", c.Fields.RefreshToken},
		{"user_name", c.Fields.UserName},
		{"issued", c.Fields.Issued},
		{"expires", c.Fields.Expires},
	} {
		if strings.TrimSpace(f.value) != f.value {
			bad("fields."+f.name, "must not have leading or trailing spaces")
		}
	}
	return errors.Join(errs...)
}

// checkURL returns "" when raw is an acceptable endpoint URL, else the problem.
func checkURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "must be an absolute http(s) URL"
	}
	if u.User != nil {
		return "must not contain credentials (user:password@); use client_id and client_secret"
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not contain a #fragment"
	}
	return ""
}
