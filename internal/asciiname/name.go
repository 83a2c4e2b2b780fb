package asciiname

import "strings"

// Character sets of names.
const (
	Lower  = "abcdefghijklmnopqrstuvwxyz"
	Digits = "0123456789"
	Hex    = Digits + "abcdefABCDEF"
)

// Valid reports whether s is 1 to max bytes long, its first byte one of first and every other
// byte one of rest (sets of ASCII characters: a byte of a multi-byte UTF-8 sequence is in
// none of them). Valid(s, 32, Lower+Digits, Lower+Digits+"-") is what the regular expression
// ^[a-z0-9][a-z0-9-]{0,31}$ matches.
func Valid(s string, max int, first, rest string) bool {
	if s == "" || len(s) > max || strings.IndexByte(first, s[0]) < 0 {
		return false
	}
	for i := 1; i < len(s); i++ {
		if strings.IndexByte(rest, s[i]) < 0 {
			return false
		}
	}
	return true
}
