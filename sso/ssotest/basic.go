package ssotest

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// OAuth4WebAPIEncode is oauth4webapi 3.x's formUrlEncode, the strictest real client's reading of
// RFC 6749 2.3.1: only ASCII letters and digits stay, a space is '+', everything else
// (including -_.!~*'()) is percent-encoded.
func OAuth4WebAPIEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			b.WriteByte('+')
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// OAuth4WebAPIBasic is the Authorization header oauth4webapi's client_secret_basic sends.
func OAuth4WebAPIBasic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(OAuth4WebAPIEncode(id)+":"+OAuth4WebAPIEncode(secret)))
}
