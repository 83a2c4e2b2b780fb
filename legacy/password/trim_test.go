package password

import (
	"encoding/base64"
	"testing"
)

// TestMembershipTrimsPasswordAsASPNET: .NET's SqlMembershipProvider trims the password
// (String.Trim) in CreateUser, ChangePassword and ValidateUser, so a Membership hash is of the
// trimmed password and iMIS signs in a member who types it with surrounding white space.
// The Identity and bcrypt schemes do not trim.
func TestMembershipTrimsPasswordAsASPNET(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString(refSalt)
	untrimmed, err := MembershipHash(SHA256, salt, refPassword+" ")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, stored, salt string
		format             int
		password           string
		want               bool
	}{
		{"sha256/trailing-space", refSHA256, refSalt, 1, refPassword + " ", true},
		{"sha256/leading-tab", refSHA256, refSalt, 1, "\t" + refPassword, true},
		{"sha256/nbsp-and-newline", refSHA256, refSalt, 1, "\u00a0" + refPassword + "\r\n", true},
		{"sha256/ideographic-space", refSHA256, refSalt, 1, refPassword + "\u3000", true},
		{"sha1/trailing-space", refSHA1, refSalt, 1, refPassword + " ", true},
		{"clear/trailing-space", refPassword, "", 0, refPassword + "  ", true},
		{"sha256/inner-space", refSHA256, refSalt, 1, "P@ss w0rd!", false},
		{"sha256/only-spaces", refSHA256, refSalt, 1, "   ", false},
		// A hash of the untrimmed password (written by other code than SqlMembershipProvider)
		// still verifies as typed.
		{"sha256/untrimmed-hash", untrimmed, refSalt, 1, refPassword + " ", true},
		{"identity-v3/not-trimmed", refIDv3_256, "", 1, refPassword + " ", false},
		{"identity-v2/not-trimmed", refIDv2, "", 1, refPassword + " ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Default().Verify(tc.format, tc.stored, tc.salt, tc.password)
			if err != nil || got != tc.want {
				t.Fatalf("Verify = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
