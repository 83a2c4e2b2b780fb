package bridge_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/internal/benchcpu"
	"github.com/ssobridge/ssobridge/sso"
)

// BenchmarkRefreshForgedOldGeneration measures a refresh grant presenting a made-up refresh
// token that names a real family (rotated 4096 times) and claims an old generation: what anyone
// who ever held one token of the family can send at will. "current" is the same made-up token
// claiming the family's current generation (refused on its hash, no generation walked): the
// baseline of the same run. "old" and "old-d" claim generation 0, in the token's two shapes
// (chain-derived and derived from the family directly); before the generations were derived
// from the family, both walked the successor chain 4096 HMAC steps up to the current one.
func BenchmarkRefreshForgedOldGeneration(b *testing.B) {
	const gens = 4096
	e := newEnvDeps(b, false, nil, envDeps{}, func(cfg *bridge.Config) { cfg.Throttle.AnonymousWrites = 1 << 30 })
	cfg, _ := e.oauth("web", webSecret, "http://127.0.0.1:9/app/callback", oauth2.AuthStyleInHeader)
	tok, err := cfg.Exchange(e.ctx(), e.signIn(e.browser(), cfg.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		b.Fatal(err)
	}
	rt := tok.RefreshToken
	refresh := func(rt string) (int, string) {
		rec := e.serve(tokenReq(e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "web", webSecret))
		return rec.Code, rec.Body.String()
	}
	for range gens {
		code, body := refresh(rt)
		if code != 200 {
			b.Fatalf("rotation: %d %s", code, body)
		}
		i := strings.Index(body, `"refresh_token":"`) + len(`"refresh_token":"`)
		rt = body[i : i+strings.IndexByte(body[i:], '"')]
	}
	family, _, _ := strings.Cut(rt, ".")
	for _, c := range []struct{ name, token string }{
		{"current", family + "." + strconv.Itoa(gens) + "." + sso.RandomToken()},
		{"old", family + ".0." + sso.RandomToken()},
		{"old-d", family + ".0.d." + sso.RandomToken()},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := benchcpu.Start()
			for b.Loop() {
				if code, body := refresh(c.token); code != 400 || !strings.Contains(body, "invalid_grant") {
					b.Fatalf("forged token: %d %s", code, body)
				}
			}
			cpu.Report(b)
		})
	}
	// Nothing above revoked the family.
	if code, body := refresh(rt); code != 200 {
		b.Fatalf("the family's current token after the forged ones: %d %s", code, body)
	}
}
