package rp

import (
	"fmt"
	"slices"

	"github.com/chromedp/chromedp"
)

// css is shorthand for a CSS selector.
type css = chromedp.CSS

// audHas reports whether an aud claim (a string or a list) names clientID.
func audHas(aud any, clientID string) bool {
	switch a := aud.(type) {
	case string:
		return a == clientID
	case []any:
		return slices.Contains(a, any(clientID))
	}
	return false
}

// strList turns a JSON list of strings into a sorted []string (nil for anything else).
func strList(v any) []string {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		out = append(out, fmt.Sprint(e))
	}
	slices.Sort(out)
	return out
}

// str is a JSON value as a string ("" for nil).
func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// deref is *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
