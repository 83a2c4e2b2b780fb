// Command loadtest prepares and checks load runs against a running ssobridge on 127.0.0.1:
// it signs a demo member in N times through the real login page (authorization code flow with
// a confidential client) and writes one refresh token per line, so that wrk (refresh.lua) can
// drive N independent rotation chains. It also prints the raw RS256/ES256 signing rates of this
// machine, the baseline the refresh-grant figures are compared with.
//
//	go run ./scripts/loadtest -issuer http://127.0.0.1:8080 -client load-es -secret ... -n 16 > tokens.txt
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

func main() {
	issuer := flag.String("issuer", "http://127.0.0.1:8080", "bridge issuer (loopback only)")
	client := flag.String("client", "", "confidential client id")
	secret := flag.String("secret", "", "client secret")
	redirect := flag.String("redirect", "http://127.0.0.1:9/cb", "registered redirect URI (never contacted)")
	login := flag.String("login", "alice", "demo member")
	password := flag.String("password", "alice-demo-1", "demo password")
	n := flag.Int("n", 16, "refresh-token chains to mint")
	sign := flag.Bool("sign", false, "print the raw signing rates instead")
	logins := flag.Duration("logins", 0, "run full browser logins (authorize, login page, POST, code exchange) for this long with -c workers")
	workers := flag.Int("c", 16, "concurrent workers for -logins")
	flag.Parse()
	if *sign {
		signRates()
		return
	}
	if !strings.HasPrefix(*issuer, "http://127.0.0.1") && !strings.HasPrefix(*issuer, "http://localhost") {
		fmt.Fprintln(os.Stderr, "loadtest: the issuer must be on the loopback interface")
		os.Exit(2)
	}
	cfg := &oauth2.Config{ClientID: *client, ClientSecret: *secret, RedirectURL: *redirect, Scopes: []string{"openid", "profile", "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: *issuer + "/authorize", TokenURL: *issuer + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader}}
	if *logins > 0 {
		loginRate(*issuer, cfg, *login, *password, *redirect, *workers, *logins)
		return
	}
	for i := 0; i < *n; i++ {
		code, err := signIn(*issuer, cfg.AuthCodeURL(fmt.Sprint("s", i)), *login, *password, *redirect)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			os.Exit(1)
		}
		tok, err := cfg.Exchange(context.Background(), code)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest: exchange:", err)
			os.Exit(1)
		}
		fmt.Println(tok.RefreshToken)
	}
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
func loginRate(issuer string, cfg *oauth2.Config, login, password, redirect string, workers int, d time.Duration) {
	var done, failed atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				code, err := signIn(issuer, cfg.AuthCodeURL("s"), login, password, redirect)
				if err == nil {
					_, err = cfg.Exchange(context.Background(), code)
				}
				if err != nil {
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("full logins: %d in %s with %d workers = %.0f/s (%d failed)\n", done.Load(), d, workers, float64(done.Load())/d.Seconds(), failed.Load())
}

func signRates() {
	digest := sha256.Sum256([]byte("header.payload"))
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rate := func(name string, f func()) {
		start, n := time.Now(), 0
		for time.Since(start) < 2*time.Second {
			f()
			n++
		}
		fmt.Printf("%s signatures/s (one core): %.0f\n", name, float64(n)/time.Since(start).Seconds())
	}
	rate("RS256", func() { _, _ = rsa.SignPKCS1v15(nil, rk, crypto.SHA256, digest[:]) })
	rate("ES256", func() { _, _ = ecdsa.SignASN1(rand.Reader, ek, digest[:]) })
}
