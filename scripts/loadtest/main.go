// Command loadtest prepares and checks load runs against a running ssobridge on 127.0.0.1:
// it signs a demo member in N times through the real login page (authorization code flow with
// a confidential client) and writes one refresh token per line, so that wrk (refresh.lua) can
// drive N independent rotation chains. It also prints the raw RS256/ES256 signing rates of this
// machine, the baseline the refresh-grant figures are compared with.
//
//	go run ./scripts/loadtest -issuer http://127.0.0.1:8080 -client load-es -secret ... -n 16 > tokens.txt
//
// With -peer dex or -peer oidc-provider it drives a peer OpenID provider the same way
// (scripts/loadtest/peers): endpoints from its discovery document, and a browser-less login
// that fills in and posts whatever login and consent forms the peer shows until it redirects
// to the client with a code.
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/internal/rsasign"
)

func main() {
	issuer := flag.String("issuer", "http://127.0.0.1:8080", "bridge issuer (loopback only)")
	client := flag.String("client", "", "confidential client id")
	secret := flag.String("secret", "", "client secret")
	redirect := flag.String("redirect", "http://127.0.0.1:9/cb", "registered redirect URI (never contacted)")
	login := flag.String("login", "alice", "demo member (with -peer: a %d in it is replaced by the chain or worker number)")
	password := flag.String("password", "alice-demo-1", "demo password")
	n := flag.Int("n", 16, "refresh-token chains to mint")
	sign := flag.Bool("sign", false, "print the raw signing rates instead")
	signAlg := flag.String("sign-alg", "", "with -sign: only this algorithm (RS256 or ES256)")
	signFor := flag.Duration("sign-for", 2*time.Second, "with -sign: how long each rate is measured")
	logins := flag.Duration("logins", 0, "run full browser logins (authorize, login page, POST, code exchange) for this long with -c workers")
	workers := flag.Int("c", 16, "concurrent workers for -logins and -refresh")
	refreshes := flag.Int("refresh", 0, "mint -n chains, then run this many refresh grants over them with -c workers and print rate and latency percentiles")
	refreshFor := flag.Duration("refresh-for", 0, "with -refresh: stop after this long even if fewer grants ran (0: no limit); the line says how many ran")
	latency := flag.Bool("latency", false, "with -logins: also print the logins' latency percentiles (a second line, \"login latency: ...\")")
	peer := flag.String("peer", "", "drive a peer provider instead of ssobridge: dex or oidc-provider (login and consent forms, endpoints from discovery)")
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *sign {
		if err := signRates(*signAlg, *signFor); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			os.Exit(2)
		}
		return
	}
	if !strings.HasPrefix(*issuer, "http://127.0.0.1") && !strings.HasPrefix(*issuer, "http://localhost") {
		fmt.Fprintln(os.Stderr, "loadtest: the issuer must be on the loopback interface")
		os.Exit(2)
	}
	cfg := &oauth2.Config{ClientID: *client, ClientSecret: *secret, RedirectURL: *redirect, Scopes: []string{"openid", "profile", "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: *issuer + "/authorize", TokenURL: *issuer + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader}}
	// authorize runs browser-less login number i (chain i, or worker i for -logins) and returns
	// the authorization code.
	authorize := func(i int) (string, error) {
		return signIn(*issuer, cfg.AuthCodeURL(fmt.Sprint("s", i)), *login, *password, *redirect)
	}
	if *peer != "" {
		p, err := newPeer(*peer, *issuer, cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			os.Exit(2)
		}
		if !set["login"] {
			*login = p.login
		}
		authorize = func(i int) (string, error) {
			return formSignIn(cfg.AuthCodeURL(fmt.Sprint("s", i), p.authOpts...), p.loginFor(*login, i), *password, *redirect)
		}
	}
	if *logins > 0 {
		loginRate(authorize, cfg, *workers, *logins, *latency)
		return
	}
	chains := make([]string, *n)
	for i := range chains {
		code, err := authorize(i)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			os.Exit(1)
		}
		tok, err := cfg.Exchange(context.Background(), code)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest: exchange:", err)
			os.Exit(1)
		}
		chains[i] = tok.RefreshToken
	}
	if *refreshes > 0 {
		refreshRun(cfg, chains, *refreshes, *workers, *refreshFor)
		return
	}
	for _, t := range chains {
		fmt.Println(t)
	}
}

// refreshRun runs total refresh grants (fewer if limit > 0 runs out first) over the chains,
// worker w rotating the chains i with i % workers == w in turn, and prints the rate, the
// latency percentiles and the failures.
func refreshRun(cfg *oauth2.Config, chains []string, total, workers int, limit time.Duration) {
	workers = min(workers, len(chains))
	var (
		next     atomic.Int64
		failed   atomic.Int64
		firstErr atomic.Value
		mu       sync.Mutex
		latency  = make([]time.Duration, 0, total)
		wg       sync.WaitGroup
	)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := []int{}
			for i := w; i < len(chains); i += workers {
				mine = append(mine, i)
			}
			local := make([]time.Duration, 0, total/workers+1)
			for k := 0; next.Add(1) <= int64(total) && (limit == 0 || time.Since(start) < limit); k++ {
				i := mine[k%len(mine)]
				t0 := time.Now()
				tok, err := refreshOnce(hc, cfg, chains[i])
				local = append(local, time.Since(t0))
				if err != nil {
					if failed.Add(1) == 1 {
						firstErr.Store(err.Error())
					}
					continue
				}
				chains[i] = tok
			}
			mu.Lock()
			latency = append(latency, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	d := time.Since(start)
	slices.Sort(latency)
	pct := func(p float64) time.Duration { return latency[int(p*float64(len(latency)-1))] }
	fmt.Printf("refreshes: %d in %s with %d workers over %d chains = %.0f/s, p50 %s, p99 %s, max %s (%d failed)\n",
		len(latency), d.Round(time.Millisecond), workers, len(chains), float64(len(latency))/d.Seconds(),
		pct(0.5).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), latency[len(latency)-1].Round(10*time.Microsecond), failed.Load())
	if e, ok := firstErr.Load().(string); ok {
		fmt.Printf("first failure: %s\n", e)
	}
}

func refreshOnce(hc *http.Client, cfg *oauth2.Config, token string) (string, error) {
	req, err := http.NewRequest(http.MethodPost, cfg.Endpoint.TokenURL,
		strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cfg.ClientID), url.QueryEscape(cfg.ClientSecret))
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		RefreshToken string `json:"refresh_token"`
		Error        string `json:"error"`
		Description  string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.RefreshToken == "" {
		return "", fmt.Errorf("refresh: status %d %s %s", resp.StatusCode, body.Error, body.Description)
	}
	return body.RefreshToken, nil
}

var hidden = regexp.MustCompile(`name="(csrf|id)" value="([^"]+)"`)

func signIn(issuer, authURL, login, password, redirect string) (string, error) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), redirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := hc.Get(authURL)
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := url.Values{"login": {login}, "password": {password}}
	for _, m := range hidden.FindAllStringSubmatch(string(body), -1) {
		form.Set(m[1], strings.ReplaceAll(m[2], "&#43;", "+"))
	}
	resp, err = hc.PostForm(issuer+"/login", form)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		return "", fmt.Errorf("no code (status %d, location %q)", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code"), nil
}

// loginRate runs complete logins in a fresh cookie jar each (no SSO session reused) and prints
// logins per second; each ends with the code exchanged for tokens.
func loginRate(authorize func(i int) (string, error), cfg *oauth2.Config, workers int, d time.Duration, latencies bool) {
	var done, failed atomic.Int64
	var firstErr atomic.Value
	var (
		mu      sync.Mutex
		latency []time.Duration
	)
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			defer func() {
				mu.Lock()
				latency = append(latency, local...)
				mu.Unlock()
			}()
			for time.Now().Before(deadline) {
				t0 := time.Now()
				code, err := authorize(w)
				if err == nil {
					_, err = cfg.Exchange(context.Background(), code)
				}
				if err != nil {
					if failed.Add(1) == 1 {
						firstErr.Store(err.Error())
					}
					continue
				}
				done.Add(1)
				local = append(local, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	fmt.Printf("full logins: %d in %s with %d workers = %.0f/s (%d failed)\n", done.Load(), d, workers, float64(done.Load())/d.Seconds(), failed.Load())
	if latencies && len(latency) > 0 {
		slices.Sort(latency)
		pct := func(p float64) time.Duration {
			return latency[int(p*float64(len(latency)-1))].Round(10 * time.Microsecond)
		}
		fmt.Printf("login latency: p50 %s, p99 %s, max %s\n", pct(0.5), pct(0.99), pct(1))
	}
	if e, ok := firstErr.Load().(string); ok {
		fmt.Printf("first failure: %s\n", e)
	}
}

// signRates prints Go's raw signing rates on this core: RS256 (2048-bit key) and ES256 (P-256),
// and RS256 through libcrypto where this build can open it (RS256-openssl), or only alg's, each
// measured for d.
func signRates(alg string, d time.Duration) error {
	if alg != "" && alg != "RS256" && alg != "ES256" && alg != "RS256-openssl" {
		return fmt.Errorf("-sign-alg %q: RS256, ES256 or RS256-openssl", alg)
	}
	digest := sha256.Sum256([]byte("header.payload"))
	rate := func(name string, f func()) {
		if alg != "" && alg != name {
			return
		}
		start, n := time.Now(), 0
		for time.Since(start) < d {
			f()
			n++
		}
		fmt.Printf("%s signatures/s (one core): %.0f\n", name, float64(n)/time.Since(start).Seconds())
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	rate("RS256", func() { _, _ = rsa.SignPKCS1v15(nil, rk, crypto.SHA256, digest[:]) })
	rate("ES256", func() { _, _ = ecdsa.SignASN1(rand.Reader, ek, digest[:]) })
	// What the bridge signs RS256 with by default in a cgo build (keys.rsa_signer: auto):
	// libcrypto, its check with crypto/rsa included (internal/rsasign).
	if lib, err := rsasign.Open(); err == nil {
		if k, err := lib.Load(rk); err == nil {
			rate("RS256-openssl", func() { _, _ = k.Sign(digest[:]) })
		}
	}
	return nil
}
