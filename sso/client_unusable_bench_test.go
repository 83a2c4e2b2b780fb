package sso

import "testing"

// BenchmarkClientUnusable (brief s24 M5 item 3, closing-s21 Q2): what Unusable costs per
// authentication and access-token check, for a short id, a 40-character id that is not hex
// (read to its last character), and one of a subject's shape (refused).
func BenchmarkClientUnusable(b *testing.B) {
	for _, bc := range []struct{ name, id string }{
		{"short", "web"},
		{"uuid", "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"},
		{"40 chars, last not hex", "0123456789abcdef0123456789abcdef0123456z"},
		{"subject-shaped", "0123456789abcdef0123456789abcdef01234567"},
	} {
		c := &ClientConfig{ID: bc.id}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if c.Unusable() != "" {
					n++
				}
			}
			_ = n
		})
	}
}
