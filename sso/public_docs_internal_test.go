package sso

import (
	"strings"
	"testing"
)

// FuzzEtagMatches: any If-None-Match value is read without panicking; one that lists the tag
// (among any others, weak or strong) or "*" matches, and one that lists neither does not.
func FuzzEtagMatches(f *testing.F) {
	const etag = `"abc"`
	for _, s := range []string{etag, `W/"abc"`, `"x", "abc"`, "*", `"abcd"`, `abc`, ``, `,,,`, ` W/"abc" ,`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := etagMatches([]string{v}, etag)
		want := false
		for _, tag := range strings.Split(v, ",") {
			tag = strings.TrimSpace(tag)
			want = want || tag == "*" || tag == etag || tag == "W/"+etag
		}
		if got != want {
			t.Fatalf("etagMatches(%q) = %v, want %v", v, got, want)
		}
	})
}
