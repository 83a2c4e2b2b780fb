package sso

import (
	"math/rand/v2"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/schema"
)

// schemaDecoder is op's default form decoder, the reference formDecoder must match.
func schemaDecoder() *schema.Decoder {
	d := schema.NewDecoder()
	d.IgnoreUnknownKeys(true)
	return d
}

// foldsTwice reports whether two keys of form name the same field of keys (schema's result then
// depends on map order, and formDecoder hands the form to schema).
func foldsTwice(keys []string, form url.Values) bool {
	seen := map[int]bool{}
	for k := range form {
		if i := formFieldIndex(keys, k); i >= 0 {
			if seen[i] {
				return true
			}
			seen[i] = true
		}
	}
	return false
}

// TestFormDecoderMatchesSchema decodes generated forms (the fields' keys, in other cases and
// with Unicode folds, dotted and unknown keys, several or no values, empty values, max_age
// that schema refuses) with formDecoder and with op's schema decoder: the result, or whether
// it is an error, must be the same. Without the hand decoders' rules (last value, empty value,
// case folding, max_age allocated when present, display and locales unmarshaled) it fails.
func TestFormDecoderMatchesSchema(t *testing.T) {
	keyVariants := func(keys []string) []string {
		out := []string{"unknown", "scope.0", "client_id.x", "", "."}
		for _, k := range keys {
			out = append(out, k, strings.ToUpper(k), strings.Replace(k, "s", "ſ", 1), k+".", "x"+k)
		}
		return out
	}
	values := []string{"", "openid", "openid profile email", " ", "a  b", "12", "0", "-1", "abc",
		"18446744073709551616", "99999999999999999999", "page", "popup", "touch", "wap", "bogus",
		"en", "en de-CH", "xx-invalid", "https://rp.example/cb?x=1", "S256", "plain", "code", "query"}
	gen := func(r *rand.Rand, keys []string) url.Values {
		form := url.Values{}
		variants := keyVariants(keys)
		for n := r.IntN(8); n > 0; n-- {
			k := variants[r.IntN(len(variants))]
			vs := []string{}
			for m := r.IntN(3); m > 0; m-- {
				vs = append(vs, values[r.IntN(len(values))])
			}
			if r.IntN(10) == 0 {
				vs = nil // a key with no values (not from a parsed query, but schema allows it)
			}
			form[k] = vs
		}
		return form
	}
	fast, ref := newFormDecoder(), schemaDecoder()
	r := rand.New(rand.NewPCG(1, 2))
	checked := map[string]int{}
	for i := 0; i < 20000; i++ {
		for _, c := range []struct {
			name string
			keys []string
			new  func() any
		}{
			{"AuthRequest", authRequestKeys, func() any { return new(oidc.AuthRequest) }},
			{"AccessTokenRequest", accessTokenRequestKeys, func() any { return new(oidc.AccessTokenRequest) }},
		} {
			form := gen(r, c.keys)
			if foldsTwice(c.keys, form) {
				continue
			}
			got, want := c.new(), c.new()
			gerr, werr := fast.Decode(got, form), ref.Decode(want, form)
			if (gerr == nil) != (werr == nil) {
				t.Fatalf("%s %v: error %v, schema's %v", c.name, form, gerr, werr)
			}
			if werr == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("%s %v:\n got  %+v\n want %+v", c.name, form, got, want)
			}
			checked[c.name]++
		}
	}
	for _, name := range []string{"AuthRequest", "AccessTokenRequest"} {
		if checked[name] < 5000 {
			t.Fatalf("only %d %s forms compared", checked[name], name)
		}
	}
}

// TestFormDecoderCases pins the rules on the forms a login sends and the edges schema has.
func TestFormDecoderCases(t *testing.T) {
	fast := newFormDecoder()
	var a oidc.AuthRequest
	q, _ := url.ParseQuery("client_id=web&redirect_uri=https%3A%2F%2Frp%2Fcb&response_type=code&scope=openid+profile" +
		"&state=s&nonce=n&code_challenge=abc&code_challenge_method=S256&max_age=&prompt=login+consent&display=bogus" +
		"&ui_locales=en&Login_Hint=alice&x.y=1&state=s2")
	if err := fast.Decode(&a, q); err != nil {
		t.Fatal(err)
	}
	if a.ClientID != "web" || a.RedirectURI != "https://rp/cb" || a.ResponseType != "code" || a.State != "s2" ||
		a.Nonce != "n" || a.CodeChallenge != "abc" || a.CodeChallengeMethod != "S256" || a.LoginHint != "alice" ||
		!reflect.DeepEqual([]string(a.Scopes), []string{"openid", "profile"}) ||
		!reflect.DeepEqual([]string(a.Prompt), []string{"login", "consent"}) || a.Display != "" ||
		a.MaxAge == nil || *a.MaxAge != 0 || len(a.UILocales) != 1 {
		t.Fatalf("decoded %+v", a)
	}
	// schema refuses a max_age that is no unsigned integer: op answers invalid_request.
	if err := fast.Decode(new(oidc.AuthRequest), url.Values{"max_age": {"-1"}}); err == nil {
		t.Fatal("max_age=-1 decoded")
	}
	// Types other than the login's two go to schema.
	var rt oidc.RefreshTokenRequest
	if err := fast.Decode(&rt, url.Values{"refresh_token": {"r"}, "scope": {"openid email"}}); err != nil ||
		rt.RefreshToken != "r" || len(rt.Scopes) != 2 {
		t.Fatalf("refresh token request %+v, %v", rt, err)
	}
}

// TestFormDecoderAllocs is the allocation budget of decoding a login's authorization request
// (the scope and prompt splits, the max_age pointer) and token request (none): schema's
// reflection took about 30 per request.
func TestFormDecoderAllocs(t *testing.T) {
	fast := newFormDecoder()
	q, _ := url.ParseQuery("client_id=web&redirect_uri=https%3A%2F%2Frp%2Fcb&response_type=code&scope=openid+profile" +
		"&state=s&nonce=n&code_challenge=abc&code_challenge_method=S256")
	tq, _ := url.ParseQuery("grant_type=authorization_code&code=c&redirect_uri=https%3A%2F%2Frp%2Fcb&code_verifier=v")
	if n := testing.AllocsPerRun(100, func() {
		var a oidc.AuthRequest
		_ = fast.Decode(&a, q)
	}); n > 4 {
		t.Fatalf("authorization request: %v allocations, budget 4", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		var a oidc.AccessTokenRequest
		_ = fast.Decode(&a, tq)
	}); n > 1 {
		t.Fatalf("token request: %v allocations, budget 1", n)
	}
}

// BenchmarkFormDecoder decodes a login's authorization request and token request with op's
// schema decoder (schema) and with formDecoder (hand).
func BenchmarkFormDecoder(b *testing.B) {
	q, _ := url.ParseQuery("client_id=web&redirect_uri=https%3A%2F%2Frp%2Fcb&response_type=code&scope=openid+profile" +
		"&state=s&nonce=n&code_challenge=abc&code_challenge_method=S256")
	tq, _ := url.ParseQuery("grant_type=authorization_code&code=c&redirect_uri=https%3A%2F%2Frp%2Fcb&code_verifier=v")
	for _, d := range []struct {
		name string
		d    interface {
			Decode(any, map[string][]string) error
		}
	}{{"schema", schemaDecoder()}, {"hand", newFormDecoder()}} {
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var a oidc.AuthRequest
				var t oidc.AccessTokenRequest
				_ = d.d.Decode(&a, q)
				_ = d.d.Decode(&t, tq)
			}
		})
	}
}

// opRequestTypes are op's request types its decoder (schema) fills from a form, on every
// endpoint: their fields are the names caseVariant guards.
func opRequestTypes() []any {
	return []any{new(oidc.AuthRequest), new(oidc.EndSessionRequest), new(oidc.AccessTokenRequest),
		new(oidc.RefreshTokenRequest), new(oidc.ClientCredentialsRequest), new(oidc.TokenExchangeRequest),
		new(oidc.JWTProfileGrantRequest), new(oidc.DeviceAuthorizationRequest), new(oidc.DeviceAccessTokenRequest),
		new(oidc.IntrospectionRequest), new(oidc.RevocationRequest), new(oidc.UserInfoRequest)}
}

// TestProtocolParamsCoverOpRequests: every field name of op's request types is one of
// protocolParams, lowercase ASCII (caseVariant compares only other names). A field op adds in
// a later version fails here until it is listed.
func TestProtocolParamsCoverOpRequests(t *testing.T) {
	known := map[string]bool{}
	for _, p := range protocolParams {
		if !plainLower(p) {
			t.Errorf("%q is not lowercase ASCII", p)
		}
		known[p] = true
	}
	for _, v := range opRequestTypes() {
		typ := reflect.TypeOf(v).Elem()
		for i := 0; i < typ.NumField(); i++ {
			tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("schema"), ",")
			if tag != "" && tag != "-" && !known[tag] {
				t.Errorf("%s.%s (%q) is not in protocolParams", typ.Name(), typ.Field(i).Name, tag)
			}
		}
	}
}

// FuzzCaseVariant: for any form, caseVariant either names a key of it that is not lowercase
// ASCII and equals, in another case, another key (repeated) or a protocol parameter; or it
// finds none, and then op's decoder (formDecoder, schema for the types it hands on) reads every
// request type from the form exactly as from its keys that are protocol parameters as spelled:
// no name in another case reaches a field.
func FuzzCaseVariant(f *testing.F) {
	for _, s := range []string{"", "token=a", "Token=a", "token=a&TOKEN=b", "to\u212Aen=a", "grant_type=refresh_token&Grant_Type=x",
		"client_id=web&redirect_uri=x&Max_Age=1", "foo=1&Foo=2", "ſcope=openid", "scope.0=x&Scope.1=y", "access_token=a&x=1",
		"max_age=-1", "ID_TOKEN_HINT=x", "response_type=code&scope=openid+profile&state=s"} {
		f.Add(s)
	}
	fast := newFormDecoder()
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		name, repeated := caseVariant(form)
		if name != "" {
			if _, ok := form[name]; !ok || plainLower(name) {
				t.Fatalf("%q: caseVariant named %q", body, name)
			}
			found := false
			for k := range form {
				found = found || (repeated && k != name && strings.EqualFold(k, name))
			}
			for _, p := range protocolParams {
				found = found || (!repeated && strings.EqualFold(p, name))
			}
			if !found {
				t.Fatalf("%q: caseVariant named %q (repeated %v) for nothing it folds to", body, name, repeated)
			}
			return
		}
		spelled := url.Values{}
		for _, p := range protocolParams {
			if v, ok := form[p]; ok {
				spelled[p] = v
			}
		}
		for _, typ := range opRequestTypes() {
			got := reflect.New(reflect.TypeOf(typ).Elem()).Interface()
			want := reflect.New(reflect.TypeOf(typ).Elem()).Interface()
			gerr, werr := fast.Decode(got, form), fast.Decode(want, spelled)
			if (gerr == nil) != (werr == nil) || (werr == nil && !reflect.DeepEqual(got, want)) {
				t.Fatalf("%q: %T decoded %+v (%v), from the names as spelled %+v (%v)", body, typ, got, gerr, want, werr)
			}
		}
	})
}
