package sso

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/schema"
)

// formDecoder is op's form decoder (httphelper.Decoder) for the provider's server and its code
// grant. The two requests of every login, the authorization request and the code's token
// request, are decoded by hand; every other type goes to the schema decoder op uses by default
// (IgnoreUnknownKeys). The schema decoder walks its type cache by reflection for each key
// (about 30 allocations and 8 µs per request on the benchmark machine); the hand decoders give
// the same result for every form they accept (TestFormDecoderMatchesSchema compares them on
// generated forms) and hand every form they do not handle exactly as schema would (a key
// matching a field more than once, a max_age schema refuses) to the schema decoder, so errors
// are schema's own.
//
// The rules they follow are schema v1's: a field's key is matched case-insensitively
// (strings.EqualFold) to its tag; keys matching no field, and dotted keys, are ignored; the last
// value of a key counts; an empty value leaves a string field as it was; a text unmarshaler
// (scope, prompt, acr_values, ui_locales, display) gets the last value or "" when the key has
// none; a *uint (max_age) is allocated when its key is present and parsed unless empty.
type formDecoder struct {
	fallback *schema.Decoder
}

func newFormDecoder() formDecoder {
	d := schema.NewDecoder()
	d.IgnoreUnknownKeys(true)
	return formDecoder{fallback: d}
}

// Decode decodes src into dst as op's schema decoder would.
func (d formDecoder) Decode(dst any, src map[string][]string) error {
	switch v := dst.(type) {
	case *oidc.AuthRequest:
		if decodeAuthRequest(v, src) {
			return nil
		}
	case *oidc.AccessTokenRequest:
		if decodeAccessTokenRequest(v, src) {
			return nil
		}
	}
	return d.fallback.Decode(dst, src)
}

// The fields of oidc.AuthRequest and oidc.AccessTokenRequest by their schema tag, in struct
// order (formFieldIndex's result).
var (
	authRequestKeys = []string{"scope", "response_type", "client_id", "redirect_uri", "state", "nonce",
		"response_mode", "display", "prompt", "max_age", "ui_locales", "id_token_hint", "login_hint",
		"acr_values", "code_challenge", "code_challenge_method", "request"}
	accessTokenRequestKeys = []string{"code", "redirect_uri", "client_id", "client_secret", "code_verifier",
		"client_assertion", "client_assertion_type"}
)

// formFieldIndex is the index in keys of the field that key names (-1: none). Exact keys, the
// usual case, are found without folding.
func formFieldIndex(keys []string, key string) int {
	for i, k := range keys {
		if k == key {
			return i
		}
	}
	if strings.Contains(key, ".") {
		return -1 // a path into a nested struct: these types have none
	}
	for i, k := range keys {
		if strings.EqualFold(k, key) {
			return i
		}
	}
	return -1
}

// lastValue is the value schema takes for a key: its last, or "" when it has none.
func lastValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[len(values)-1]
}

// setString is schema's rule for a string field: a non-empty last value replaces it.
func setString[S ~string](dst *S, values []string) {
	if v := lastValue(values); v != "" {
		*dst = S(v)
	}
}

// fieldsSeen records which fields a form named, so that a field named twice (by keys that
// differ in case: schema's result then depends on map order) is left to schema.
type fieldsSeen uint32

func (s *fieldsSeen) first(i int) bool {
	bit := fieldsSeen(1) << i
	if *s&bit != 0 {
		return false
	}
	*s |= bit
	return true
}

// decodeAuthRequest decodes src into dst; false leaves dst unchanged for the schema decoder.
func decodeAuthRequest(dst *oidc.AuthRequest, src map[string][]string) bool {
	a := *dst
	var seen fieldsSeen
	for key, values := range src {
		i := formFieldIndex(authRequestKeys, key)
		if i < 0 {
			continue
		}
		if !seen.first(i) {
			return false
		}
		switch authRequestKeys[i] {
		case "scope":
			a.Scopes = strings.Split(lastValue(values), " ")
		case "response_type":
			setString(&a.ResponseType, values)
		case "client_id":
			setString(&a.ClientID, values)
		case "redirect_uri":
			setString(&a.RedirectURI, values)
		case "state":
			setString(&a.State, values)
		case "nonce":
			setString(&a.Nonce, values)
		case "response_mode":
			setString(&a.ResponseMode, values)
		case "display":
			var d oidc.Display
			_ = d.UnmarshalText([]byte(lastValue(values))) // never fails: an unknown display is ""
			a.Display = d
		case "prompt":
			a.Prompt = strings.Split(lastValue(values), " ")
		case "max_age":
			v := lastValue(values)
			var n uint64
			if v != "" {
				var err error
				if n, err = strconv.ParseUint(v, 10, 0); err != nil {
					return false // schema's ConversionError
				}
			}
			if a.MaxAge == nil {
				a.MaxAge = new(uint)
			} else if v != "" {
				a.MaxAge = new(uint) // dst's own stays as it was until schema or this succeeds
			}
			if v != "" {
				*a.MaxAge = uint(n)
			}
		case "ui_locales":
			var l oidc.Locales
			_ = l.UnmarshalText([]byte(lastValue(values))) // never fails: unknown tags are left out
			a.UILocales = l
		case "id_token_hint":
			setString(&a.IDTokenHint, values)
		case "login_hint":
			setString(&a.LoginHint, values)
		case "acr_values":
			a.ACRValues = strings.Split(lastValue(values), " ")
		case "code_challenge":
			setString(&a.CodeChallenge, values)
		case "code_challenge_method":
			setString(&a.CodeChallengeMethod, values)
		case "request":
			setString(&a.RequestParam, values)
		}
	}
	*dst = a
	return true
}

// decodeAccessTokenRequest decodes src into dst; false leaves dst unchanged for the schema
// decoder.
func decodeAccessTokenRequest(dst *oidc.AccessTokenRequest, src map[string][]string) bool {
	a := *dst
	var seen fieldsSeen
	for key, values := range src {
		i := formFieldIndex(accessTokenRequestKeys, key)
		if i < 0 {
			continue
		}
		if !seen.first(i) {
			return false
		}
		switch accessTokenRequestKeys[i] {
		case "code":
			setString(&a.Code, values)
		case "redirect_uri":
			setString(&a.RedirectURI, values)
		case "client_id":
			setString(&a.ClientID, values)
		case "client_secret":
			setString(&a.ClientSecret, values)
		case "code_verifier":
			setString(&a.CodeVerifier, values)
		case "client_assertion":
			setString(&a.ClientAssertion, values)
		case "client_assertion_type":
			setString(&a.ClientAssertionType, values)
		}
	}
	*dst = a
	return true
}

// protocolParams are the names of the request parameters op's decoder or the provider reads on
// any endpoint, as the specifications spell them (lowercase ASCII): the schema tags of op's
// request types (TestProtocolParamsCoverOpRequests checks them) and the names the provider
// reads itself (grant_type, resource, audience, username, password, request_uri).
var protocolParams = []string{
	"access_token", "acr_values", "actor_token", "actor_token_type", "assertion", "audience",
	"client_assertion", "client_assertion_type", "client_id", "client_secret", "code", "code_challenge",
	"code_challenge_method", "code_verifier", "device_code", "display", "dpop_jkt", "grant_type", "id_token_hint",
	"login_hint", "logout_hint", "max_age", "nonce", "password", "post_logout_redirect_uri", "prompt",
	"redirect_uri", "refresh_token", "request", "request_uri", "requested_token_type", "resource",
	"response_mode", "response_type", "scope", "state", "subject_token", "subject_token_type", "token",
	"token_type_hint", "ui_locales", "username",
}

// caseVariant is the one rule for parameter names in another case, applied to every endpoint's
// parameters where they are read (serveAPI, servePage, serveUserinfo). op's decoder (schema)
// matches a name to its field in any case (strings.EqualFold: Client_Id, or a to\u212Aen with
// the Kelvin sign, fills the field), while the provider's checks and grants read a name as the
// specifications spell it; so two names equal in another case are one parameter repeated (RFC
// 6749 3.1, 3.2), whatever the parameter, and a protocol parameter's name in another case alone
// would reach op past the provider's checks of the name as spelled (or be missed by them: a
// Grant_Type is no grant_type). It returns a name of form (which one, when several are, follows
// the map's order) equal in another case to another of form's names (repeated) or to one of
// protocolParams; "" when there is none.
//
// A name of lowercase ASCII alone (every name a client sends, so the rule costs a scan of each
// name) is not compared: two such names fold equal only when they are equal, every protocol
// name is one, and a name that folds to one of them has an upper-case or non-ASCII byte, so the
// pair is found when that name is checked.
func caseVariant(form url.Values) (name string, repeated bool) {
	for k := range form {
		if plainLower(k) {
			continue
		}
		for other := range form {
			if other != k && strings.EqualFold(other, k) {
				return k, true
			}
		}
		for _, p := range protocolParams {
			if strings.EqualFold(p, k) {
				return k, false
			}
		}
	}
	return "", false
}

// plainLower reports whether s has no upper-case ASCII letter and no byte outside ASCII.
func plainLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || ('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// caseVariantText is the error description of caseVariant's finding about what names it.
func caseVariantText(what string, repeated bool) string {
	if repeated {
		return what + " repeated"
	}
	return what + " named in another case"
}
