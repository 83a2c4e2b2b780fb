package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Token is a successful token-endpoint answer.
//
// String, GoString and LogValue redact AccessToken and RefreshToken, so a Token can be
// printed or logged without leaking them.
type Token struct {
	AccessToken string
	// TokenType is normally "bearer".
	TokenType string
	// ExpiresIn is the access token's lifetime (expires_in); zero when absent.
	ExpiresIn time.Duration
	// RefreshToken is the rotated refresh token, empty when the AMS returned none.
	RefreshToken string
	// UserName is the member's AMS login (iMIS UserMain.UserId). It is never empty.
	UserName string
	// Issued and Expires are the OWIN .issued/.expires dates; zero when absent or unreadable.
	Issued  time.Time
	Expires time.Time
}

func (t Token) String() string {
	return fmt.Sprintf("token.Token{UserName:%q TokenType:%q ExpiresIn:%s AccessToken:%s RefreshToken:%s}",
		t.UserName, t.TokenType, t.ExpiresIn, redacted(t.AccessToken), redacted(t.RefreshToken))
}

// GoString redacts like String (for %#v).
func (t Token) GoString() string { return t.String() }

// LogValue implements slog.LogValuer without the tokens.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("user_name", t.UserName),
		slog.String("token_type", t.TokenType),
		slog.Duration("expires_in", t.ExpiresIn),
		slog.Bool("has_refresh_token", t.RefreshToken != ""),
	)
}

func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "[redacted]"
}

// Limits on what a token response may contain.
const (
	maxUserName = 256
	maxToken    = 16 << 10
)

var errNotTokenResponse = errors.New("the answer is not a token response")

// parseToken parses a 200 answer of the token endpoint. Its errors never quote the body.
func parseToken(body []byte, f Fields) (*Token, error) {
	obj, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	var t Token
	var ok bool
	if t.UserName, ok = stringField(obj, f.UserName); !ok {
		return nil, fmt.Errorf("%w: field %q is not a string", errNotTokenResponse, f.UserName)
	}
	if t.UserName == "" {
		return nil, fmt.Errorf("%w: no %q field (the member's login)", errNotTokenResponse, f.UserName)
	}
	if msg := checkUserName(t.UserName); msg != "" {
		return nil, fmt.Errorf("%w: field %q %s", errNotTokenResponse, f.UserName, msg)
	}
	if t.AccessToken, ok = stringField(obj, f.AccessToken); !ok || t.AccessToken == "" {
		return nil, fmt.Errorf("%w: no %q string field", errNotTokenResponse, f.AccessToken)
	}
	if t.RefreshToken, ok = stringField(obj, f.RefreshToken); !ok {
		return nil, fmt.Errorf("%w: field %q is not a string", errNotTokenResponse, f.RefreshToken)
	}
	if len(t.AccessToken) > maxToken || len(t.RefreshToken) > maxToken {
		return nil, fmt.Errorf("%w: token longer than %d bytes", errNotTokenResponse, maxToken)
	}
	// The rest is informative: lenient, never fatal.
	if tt, ok := stringField(obj, f.TokenType); ok {
		t.TokenType = sanitize(tt)
	}
	t.ExpiresIn = seconds(obj[f.ExpiresIn])
	if s, ok := stringField(obj, f.Issued); ok {
		t.Issued = parseDate(s)
	}
	if s, ok := stringField(obj, f.Expires); ok {
		t.Expires = parseDate(s)
	}
	return &t, nil
}

// decodeObject decodes one JSON object and nothing after it.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")) // a UTF-8 BOM, as .NET may write
	dec := json.NewDecoder(bytes.NewReader(body))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, fmt.Errorf("%w: the body is not a JSON object", errNotTokenResponse)
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("%w: data after the JSON object", errNotTokenResponse)
	}
	return obj, nil
}

// stringField returns the string value of obj[name]; absent or null gives "", true; any
// other JSON type gives "", false.
func stringField(obj map[string]json.RawMessage, name string) (string, bool) {
	raw, present := obj[name]
	if !present || string(raw) == "null" {
		return "", true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// checkUserName returns "" for a plausible login, else what is wrong with it.
func checkUserName(s string) string {
	switch {
	case len(s) > maxUserName:
		return fmt.Sprintf("is longer than %d bytes", maxUserName)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.TrimSpace(s) == "":
		return "is blank"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "contains control characters"
	}
	return ""
}

// seconds reads expires_in leniently: a JSON number or a numeric string, in seconds.
func seconds(raw json.RawMessage) time.Duration {
	if len(raw) == 0 {
		return 0
	}
	s := string(raw)
	if len(s) >= 2 && s[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v <= 0 || math.IsNaN(v) || v > 10*365*24*3600 {
		return 0
	}
	return time.Duration(v * float64(time.Second))
}

// dateLayouts are tried in order. OWIN writes RFC 1123 ("ddd, dd MMM yyyy HH:mm:ss GMT").
var dateLayouts = []string{
	time.RFC1123,
	time.RFC1123Z,
	"Mon, 2 Jan 2006 15:04:05 MST",
	"2 Jan 2006 15:04:05 MST",
	time.RFC850,
	time.ANSIC,
	time.RFC3339Nano,
	"2006-01-02T15:04:05.9999999",
	"2006-01-02 15:04:05",
}

// parseDate reads .issued/.expires leniently; unreadable dates give the zero time.
// Times without a zone are taken as UTC (OWIN writes GMT).
func parseDate(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return time.Time{}
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// oauthError is the body of an OAuth error answer.
type oauthError struct {
	Code        string
	Description string
}

// parseOAuthError reads {"error": ..., "error_description": ...}; ok is false when the
// body is not such an object.
func parseOAuthError(body []byte) (oauthError, bool) {
	obj, err := decodeObject(body)
	if err != nil {
		return oauthError{}, false
	}
	code, ok1 := stringField(obj, "error")
	desc, ok2 := stringField(obj, "error_description")
	if !ok1 || code == "" {
		return oauthError{}, false
	}
	if !ok2 {
		desc = ""
	}
	return oauthError{Code: oauthCode(code), Description: desc}, true
}
