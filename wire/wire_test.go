package wire_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/wire"
)

var secret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef01234567"))

func TestParseSecret(t *testing.T) {
	for _, tc := range []struct {
		secret string
		ok     bool
	}{
		{secret, true},
		{strings.TrimPrefix(secret, "whsec_"), false},
		{"whsec_not base64", false},
		{"whsec_" + base64.StdEncoding.EncodeToString([]byte("short")), false},
		{"", false},
	} {
		_, err := wire.ParseSecret(tc.secret)
		if (err == nil) != tc.ok {
			t.Errorf("ParseSecret(%q) = %v, want ok %v", tc.secret, err, tc.ok)
		}
	}
}

func TestSignVerify(t *testing.T) {
	key, err := wire.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt_1"}`)
	signed := func() http.Header {
		h := http.Header{}
		wire.SignHeaders(h, key, "evt_1", now, body)
		return h
	}
	for _, tc := range []struct {
		name   string
		edit   func(h http.Header) []byte
		at     time.Time
		wantOK bool
	}{
		{"valid", func(http.Header) []byte { return body }, now, true},
		{"clock skew within tolerance", func(http.Header) []byte { return body }, now.Add(wire.WebhookTolerance), true},
		{"too old", func(http.Header) []byte { return body }, now.Add(wire.WebhookTolerance + time.Second), false},
		{"from the future", func(http.Header) []byte { return body }, now.Add(-wire.WebhookTolerance - time.Second), false},
		{"body changed", func(http.Header) []byte { return []byte(`{"id":"evt_2"}`) }, now, false},
		{"id changed", func(h http.Header) []byte { h.Set(wire.HeaderID, "evt_2"); return body }, now, false},
		{"no id", func(h http.Header) []byte { h.Del(wire.HeaderID); return body }, now, false},
		{"bad timestamp", func(h http.Header) []byte { h.Set(wire.HeaderTimestamp, "x"); return body }, now, false},
		{"several signatures, one valid", func(h http.Header) []byte {
			h.Set(wire.HeaderSignature, "v1,AAAA v2,x "+h.Get(wire.HeaderSignature))
			return body
		}, now, true},
		{"other version", func(h http.Header) []byte {
			h.Set(wire.HeaderSignature, strings.Replace(h.Get(wire.HeaderSignature), "v1,", "v1a,", 1))
			return body
		}, now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := signed()
			b := tc.edit(h)
			if err := wire.Verify(key, h, b, tc.at); (err == nil) != tc.wantOK {
				t.Fatalf("Verify = %v, want ok %v", err, tc.wantOK)
			}
		})
	}
	other, _ := wire.ParseSecret("whsec_" + base64.StdEncoding.EncodeToString([]byte("another key of 24 bytes.")))
	if err := wire.Verify(other, signed(), body, now); err == nil {
		t.Fatal("a message signed with another key verified")
	}
}

func TestSCIMUserRoundTrip(t *testing.T) {
	for _, u := range []wire.User{
		{Subject: "s1", Active: true, Login: "alice", Email: "a@example.org", Name: "Alice Archer", GivenName: "Alice",
			FamilyName: "Archer", Picture: "https://example.org/a.png", Roles: []string{"Board", "Member"},
			Membership: &wire.Membership{MemberID: "1001", MemberType: "REG", Standing: "good", PaidThrough: "2027-01-01", IsCurrent: true}},
		{Subject: "s2", Active: false, Login: "bob", Roles: []string{}},
	} {
		b, err := json.Marshal(wire.SCIMUserOf(u))
		if err != nil {
			t.Fatal(err)
		}
		var back wire.SCIMUser
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if got := back.User(); !reflect.DeepEqual(got, u) {
			t.Errorf("round trip of %s:\n got %+v\nwant %+v\nwire %s", u.Subject, got, u, b)
		}
	}
	// No login: userName is the subject. No active attribute received: active.
	r := wire.SCIMUserOf(wire.User{Subject: "s3"})
	if r.UserName != "s3" {
		t.Errorf("userName = %q, want the subject", r.UserName)
	}
	var in wire.SCIMUser
	if err := json.Unmarshal([]byte(`{"externalId":"s4","userName":"d"}`), &in); err != nil || !in.User().Active {
		t.Errorf("a User without active = %+v, %v; want active", in.User(), err)
	}
}

// TestSCIMUserPrimaryEmail: of several emails User takes the primary one (RFC 7643 4.1.2), else
// the first; before, always the first.
func TestSCIMUserPrimaryEmail(t *testing.T) {
	for _, tc := range []struct {
		name, emails, want string
	}{
		{"primary second", `[{"value":"home@example.org","type":"home"},{"value":"work@example.org","type":"work","primary":true}]`, "work@example.org"},
		{"primary first", `[{"value":"work@example.org","primary":true},{"value":"home@example.org"}]`, "work@example.org"},
		{"no primary: the first", `[{"value":"one@example.org"},{"value":"two@example.org"}]`, "one@example.org"},
		{"none", `[]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in wire.SCIMUser
			if err := json.Unmarshal([]byte(`{"externalId":"s","userName":"u","emails":`+tc.emails+`}`), &in); err != nil {
				t.Fatal(err)
			}
			if got := in.User().Email; got != tc.want {
				t.Errorf("email %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("evt_1", "1800000000", "v1,AAAA", []byte("{}"))
	f.Add("", "", "", []byte(nil))
	key, _ := wire.ParseSecret(secret)
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(wire.HeaderID, id)
		h.Set(wire.HeaderTimestamp, ts)
		h.Set(wire.HeaderSignature, sig)
		_ = wire.Verify(key, h, body, time.Unix(1_800_000_000, 0)) // must not panic
	})
}
