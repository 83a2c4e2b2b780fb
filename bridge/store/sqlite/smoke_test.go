package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

func TestSmoke(t *testing.T) {
	for _, p := range []string{Memory, filepath.Join(t.TempDir(), "x.db")} {
		ctx := context.Background()
		s, err := Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if err := s.CreateAuthRequest(ctx, &sso.AuthRequest{ID: "a", ClientID: "c", Scopes: []string{"openid", "x"}, ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		r, err := s.AuthRequest(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", r)
		s.Close()
		if p != Memory {
			s, err = Open(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
		}
	}
}
