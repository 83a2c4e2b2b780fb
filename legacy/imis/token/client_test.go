package token

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
)

const (
	testClientID     = "ssobridge-test"
	testClientSecret = "s3cret-Client-Secret-value"
	testRefresh      = "2101be8000394ac2b54733cb85faf389"
	testPassword     = "Corr3ct-Horse-Battery"
)

// owinBody is what an iMIS refresh grant answers.
func owinBody(user string) string {
	return fmt.Sprintf(`{"access_token":"AAEAAB-access-xyz","token_type":"bearer","expires_in":1199,`+
		`"refresh_token":"9f0c1d2e3b4a59687766554433221100","userName":%q,`+
		`".issued":"Tue, 24 Nov 2026 10:00:00 GMT",".expires":"Tue, 24 Nov 2026 10:19:59 GMT"}`, user)
}

// server is an httptest server counting its requests.
type server struct {
	*httptest.Server
	hits atomic.Int32
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func testConfig(baseURL string) Config {
	return Config{BaseURL: baseURL, ClientID: testClientID, ClientSecret: testClientSecret}
}

func newClient(t *testing.T, cfg Config, opts ...Option) *Client {
	t.Helper()
	c, err := New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.backoff = func(int) time.Duration { return time.Millisecond }
	return c
}

func jsonError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// readParams reads a form or JSON token request.
func readParams(t *testing.T, r *http.Request) map[string]string {
	t.Helper()
	out := map[string]string{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(r.Body).Decode(&out); err != nil {
			t.Errorf("json body: %v", err)
		}
		return out
	}
	if err := r.ParseForm(); err != nil {
		t.Errorf("form body: %v", err)
	}
	for k := range r.PostForm {
		out[k] = r.PostForm.Get(k)
	}
	return out
}

func assertNoSecrets(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{testClientSecret, testRefresh, testPassword, "AAEAAB-access-xyz", "9f0c1d2e3b4a59687766554433221100"} {
		if strings.Contains(s, secret) {
			t.Errorf("secret %q leaked into %q", secret, s)
		}
	}
}

func TestRefreshGrant(t *testing.T) {
	type want struct {
		user      string
		invGrant  bool
		invClient bool
		unavail   bool
		errHas    string
	}
	tests := []struct {
		name    string
		cfg     func(*Config)
		handler func(t *testing.T, w http.ResponseWriter, r *http.Request)
		want    want
	}{
		{
			name: "success form",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/token" {
					t.Errorf("got %s %s", r.Method, r.URL.Path)
				}
				if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
					t.Errorf("content-type %q", ct)
				}
				p := readParams(t, r)
				wantP := map[string]string{"grant_type": "refresh_token", "client_id": testClientID, "client_secret": testClientSecret, "refresh_token": testRefresh}
				for k, v := range wantP {
					if p[k] != v {
						t.Errorf("param %s = %q, want %q", k, p[k], v)
					}
				}
				w.Header().Set("Content-Type", "application/json;charset=UTF-8")
				io.WriteString(w, owinBody("jsmith"))
			},
			want: want{user: "jsmith"},
		},
		{
			name: "success json encoding",
			cfg:  func(c *Config) { c.BodyEncoding = "json" },
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				if ct := r.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("content-type %q", ct)
				}
				p := readParams(t, r)
				if p["refresh_token"] != testRefresh || p["client_secret"] != testClientSecret || p["grant_type"] != "refresh_token" {
					t.Errorf("params %v", p)
				}
				io.WriteString(w, owinBody("jsmith"))
			},
			want: want{user: "jsmith"},
		},
		{
			name: "custom field names and token_url",
			cfg: func(c *Config) {
				c.TokenURL = c.BaseURL + "/oauth2/token"
				c.Fields = Fields{UserName: "login", AccessToken: "token", ExpiresIn: "ttl"}
			},
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/oauth2/token" {
					t.Errorf("path %s", r.URL.Path)
				}
				io.WriteString(w, `{"token":"AAEAAB-access-xyz","login":"Mary.Major","ttl":"60","userName":"someone-else"}`)
			},
			want: want{user: "Mary.Major"},
		},
		{
			name: "UTF-8 BOM and no dates",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "\xef\xbb\xbf"+`{"access_token":"AAEAAB-access-xyz","userName":"jsmith"}`)
			},
			want: want{user: "jsmith"},
		},
		{
			name: "400 invalid_grant",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				jsonError(w, 400, "invalid_grant", "The refresh token is invalid or expired.")
			},
			want: want{invGrant: true, errHas: "HTTP 400 invalid_grant"},
		},
		{
			name: "invalid_grant description echoing the token is redacted",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				jsonError(w, 400, "invalid_grant", "unknown token "+testRefresh+" for client secret "+testClientSecret)
			},
			want: want{invGrant: true, errHas: "[redacted]"},
		},
		{
			name: "400 invalid_client",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				jsonError(w, 400, "invalid_client", "Client credentials are invalid.")
			},
			want: want{invClient: true, errHas: "invalid_client"},
		},
		{
			name: "401 invalid_client",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				jsonError(w, 401, "invalid_client", "")
			},
			want: want{invClient: true},
		},
		{
			name: "401 without body is unavailable",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(401)
			},
			want: want{unavail: true, errHas: "HTTP 401"},
		},
		{
			name: "400 unsupported_grant_type is unavailable",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				jsonError(w, 400, "unsupported_grant_type", "")
			},
			want: want{unavail: true, errHas: "unsupported_grant_type"},
		},
		{
			name: "500",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				http.Error(w, "<html>Server Error in '/' Application. "+testClientSecret+"</html>", 500)
			},
			want: want{unavail: true, errHas: "HTTP 500"},
		},
		{
			name: "garbage body",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<html><body>Login.aspx "+testRefresh+"</body></html>")
			},
			want: want{unavail: true, errHas: "not a JSON object"},
		},
		{
			name: "trailing garbage after the object",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, owinBody("jsmith")+`{"userName":"admin"}`)
			},
			want: want{unavail: true, errHas: "data after the JSON object"},
		},
		{
			name: "huge body",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, `{"userName":"jsmith","access_token":"`+strings.Repeat("A", 1<<20)+`"}`)
			},
			want: want{unavail: true, errHas: "larger than 65536 bytes"},
		},
		{
			name: "missing userName",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, `{"access_token":"AAEAAB-access-xyz","token_type":"bearer"}`)
			},
			want: want{unavail: true, errHas: `no "userName" field`},
		},
		{
			name: "userName not a string",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, `{"access_token":"AAEAAB-access-xyz","userName":42}`)
			},
			want: want{unavail: true, errHas: "not a string"},
		},
		{
			name: "userName with control characters",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, `{"access_token":"AAEAAB-access-xyz","userName":"js\nmith"}`)
			},
			want: want{unavail: true, errHas: "control characters"},
		},
		{
			name: "missing access_token",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, `{"userName":"jsmith"}`)
			},
			want: want{unavail: true, errHas: "access_token"},
		},
		{
			name: "redirect is not followed",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/token" {
					http.Redirect(w, r, "/AsiCommon/Controls/Shared/FormsAuthentication/Login.aspx?ReturnUrl=%2ftoken&x="+testRefresh, http.StatusTemporaryRedirect)
					return
				}
				t.Errorf("redirect followed to %s", r.URL)
			},
			want: want{unavail: true, errHas: "redirects to"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { tt.handler(t, w, r) })
			cfg := testConfig(srv.URL)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			var logs bytes.Buffer
			c := newClient(t, cfg, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			tok, err := c.RefreshGrant(context.Background(), testRefresh)
			assertNoSecrets(t, logs.String())
			if tt.want.user != "" {
				if err != nil {
					t.Fatalf("RefreshGrant: %v", err)
				}
				if tok.UserName != tt.want.user || tok.AccessToken != "AAEAAB-access-xyz" {
					t.Errorf("token %+v", tok)
				}
				assertNoSecrets(t, tok.String())
				assertNoSecrets(t, fmt.Sprintf("%v %+v %#v", tok, tok, *tok))
				return
			}
			if err == nil {
				t.Fatalf("RefreshGrant succeeded: %v", tok)
			}
			assertNoSecrets(t, err.Error())
			if got := errors.Is(err, ErrInvalidGrant); got != tt.want.invGrant {
				t.Errorf("Is(ErrInvalidGrant) = %v: %v", got, err)
			}
			if got := errors.Is(err, ErrInvalidClient); got != tt.want.invClient {
				t.Errorf("Is(ErrInvalidClient) = %v: %v", got, err)
			}
			if got := errors.Is(err, legacy.ErrUnavailable); got != tt.want.unavail {
				t.Errorf("Is(ErrUnavailable) = %v: %v", got, err)
			}
			if !strings.Contains(err.Error(), tt.want.errHas) {
				t.Errorf("error %q does not contain %q", err, tt.want.errHas)
			}
			if n := srv.hits.Load(); n != 1 {
				t.Errorf("%d requests, want 1 (a refresh grant that reached the AMS is never retried)", n)
			}
		})
	}
}

func TestRefreshGrantParsesOWINToken(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, owinBody("jsmith")) })
	tok, err := newClient(t, testConfig(srv.URL)).RefreshGrant(context.Background(), testRefresh)
	if err != nil {
		t.Fatal(err)
	}
	want := Token{
		AccessToken:  "AAEAAB-access-xyz",
		TokenType:    "bearer",
		ExpiresIn:    1199 * time.Second,
		RefreshToken: "9f0c1d2e3b4a59687766554433221100",
		UserName:     "jsmith",
		Issued:       time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC),
		Expires:      time.Date(2026, 11, 24, 10, 19, 59, 0, time.UTC),
	}
	if *tok != want {
		t.Errorf("got  %#v\nwant %#v", []any{tok.AccessToken, tok.TokenType, tok.ExpiresIn, tok.RefreshToken, tok.UserName, tok.Issued, tok.Expires},
			[]any{want.AccessToken, want.TokenType, want.ExpiresIn, want.RefreshToken, want.UserName, want.Issued, want.Expires})
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("token", "token", tok)
	assertNoSecrets(t, logs.String())
	if !strings.Contains(logs.String(), `"user_name":"jsmith"`) {
		t.Errorf("log %s", logs.String())
	}
}

func TestRefreshGrantRejectsBadInputLocally(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { t.Error("request sent") })
	c := newClient(t, testConfig(srv.URL))
	for _, rt := range []string{"", strings.Repeat("a", maxGrantInput+1)} {
		if _, err := c.RefreshGrant(context.Background(), rt); !errors.Is(err, ErrInvalidGrant) {
			t.Errorf("len %d: %v", len(rt), err)
		}
	}
}

func TestPasswordGrant(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		p := readParams(t, r)
		if p["grant_type"] != "password" || p["username"] != "svc-ssobridge" {
			t.Errorf("params %v", p)
		}
		if _, ok := p["client_secret"]; ok {
			t.Error("password grant sent the client secret")
		}
		if p["password"] != testPassword {
			jsonError(w, 400, "invalid_grant", "The user name or password is incorrect.")
			return
		}
		io.WriteString(w, owinBody("svc-ssobridge"))
	})
	c := newClient(t, testConfig(srv.URL))
	tok, err := c.PasswordGrant(context.Background(), "svc-ssobridge", testPassword)
	if err != nil || tok.UserName != "svc-ssobridge" {
		t.Fatalf("PasswordGrant: %v %v", tok, err)
	}
	_, err = c.PasswordGrant(context.Background(), "svc-ssobridge", "wrong-"+testPassword)
	if !errors.Is(err, ErrInvalidGrant) || errors.Is(err, legacy.ErrUnavailable) {
		t.Fatalf("wrong password: %v", err)
	}
	if !strings.Contains(err.Error(), "The user name or password is incorrect.") {
		t.Errorf("error %q", err)
	}
	assertNoSecrets(t, err.Error())
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != 400 || e.Grant != "password" {
		t.Errorf("As(*Error): %#v", e)
	}
}

// slowHandler answers after d, or when the request is abandoned.
func slowHandler(d time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so that the server notices the client leaving
		select {
		case <-time.After(d):
			io.WriteString(w, owinBody("jsmith"))
		case <-r.Context().Done():
		}
	}
}

func TestTimeout(t *testing.T) {
	srv := newServer(t, slowHandler(5*time.Second))
	cfg := testConfig(srv.URL)
	cfg.Timeout = 150 * time.Millisecond
	c := newClient(t, cfg)
	start := time.Now()
	_, err := c.RefreshGrant(context.Background(), testRefresh)
	if !errors.Is(err, legacy.ErrUnavailable) || !isTimeout(err) {
		t.Fatalf("err = %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %s", el)
	}
	assertNoSecrets(t, err.Error())
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("refresh grant sent %d times after a timeout", n)
	}
	// A password grant is not retried after a timeout either (lock-out counting).
	_, err = c.PasswordGrant(context.Background(), "svc", testPassword)
	if !errors.Is(err, legacy.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("password grant: %d requests in total, want 2", n)
	}
}

func TestContextCancel(t *testing.T) {
	srv := newServer(t, slowHandler(5*time.Second))
	c := newClient(t, testConfig(srv.URL))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.RefreshGrant(ctx, testRefresh)
	if !errors.Is(err, legacy.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

// refusedURL returns the URL of a port nothing listens on.
func refusedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestRetries(t *testing.T) {
	three := 3
	t.Run("refresh grant retried on connection refused", func(t *testing.T) {
		cfg := testConfig(refusedURL(t))
		cfg.Retries = &three
		c := newClient(t, cfg)
		var waits int
		c.backoff = func(int) time.Duration { waits++; return time.Millisecond }
		_, err := c.RefreshGrant(context.Background(), testRefresh)
		if !errors.Is(err, legacy.ErrUnavailable) || !isDialError(err) {
			t.Fatalf("err = %v", err)
		}
		if waits != 3 {
			t.Errorf("%d retries, want 3", waits)
		}
		assertNoSecrets(t, err.Error())
	})
	t.Run("refresh grant not retried after the connection broke", func(t *testing.T) {
		srv := newServer(t, hangUp)
		cfg := testConfig(srv.URL)
		cfg.Retries = &three
		_, err := newClient(t, cfg).RefreshGrant(context.Background(), testRefresh)
		if !errors.Is(err, legacy.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
		if n := srv.hits.Load(); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
	t.Run("password grant retried after the connection broke", func(t *testing.T) {
		srv := newServer(t, hangUp)
		cfg := testConfig(srv.URL)
		cfg.Retries = &three
		_, err := newClient(t, cfg).PasswordGrant(context.Background(), "svc", testPassword)
		if !errors.Is(err, legacy.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
		if n := srv.hits.Load(); n != 4 {
			t.Errorf("%d requests, want 4", n)
		}
	})
	t.Run("password grant retried on 503 and succeeds", func(t *testing.T) {
		var n atomic.Int32
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, owinBody("svc"))
		})
		tok, err := newClient(t, testConfig(srv.URL)).PasswordGrant(context.Background(), "svc", testPassword)
		if err != nil || tok.UserName != "svc" {
			t.Fatalf("%v %v", tok, err)
		}
		if h := srv.hits.Load(); h != 2 {
			t.Errorf("%d requests", h)
		}
	})
	t.Run("refresh grant not retried on 503", func(t *testing.T) {
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) })
		_, err := newClient(t, testConfig(srv.URL)).RefreshGrant(context.Background(), testRefresh)
		if !errors.Is(err, legacy.ErrUnavailable) || srv.hits.Load() != 1 {
			t.Fatalf("err = %v, hits %d", err, srv.hits.Load())
		}
	})
	t.Run("retries: 0 disables", func(t *testing.T) {
		zero := 0
		cfg := testConfig(refusedURL(t))
		cfg.Retries = &zero
		c := newClient(t, cfg)
		c.backoff = func(int) time.Duration { t.Error("retried"); return 0 }
		if _, err := c.RefreshGrant(context.Background(), testRefresh); !errors.Is(err, legacy.ErrUnavailable) {
			t.Fatal(err)
		}
	})
}

// hangUp reads the request and closes the connection without answering.
func hangUp(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestTokenRedaction(t *testing.T) {
	tok := Token{AccessToken: "AAEAAB-access-xyz", RefreshToken: "9f0c1d2e3b4a59687766554433221100", UserName: "u"}
	for _, s := range []string{tok.String(), fmt.Sprint(tok), fmt.Sprintf("%+v", &tok), fmt.Sprintf("%#v", tok)} {
		assertNoSecrets(t, s)
		if !strings.Contains(s, "[redacted]") {
			t.Errorf("%q", s)
		}
	}
}

func TestSanitize(t *testing.T) {
	got := sanitize("bad\x00token abcd1234\r\nsecret "+strings.Repeat("x", 300), "abcd1234", "ab")
	if strings.Contains(got, "abcd1234") || strings.ContainsAny(got, "\x00\r\n") || len([]rune(got)) > maxDescription+1 {
		t.Errorf("sanitize = %q", got)
	}
	if oauthCode("invalid_grant") != "invalid_grant" || oauthCode("<script>") != "" || oauthCode(strings.Repeat("a", 65)) != "" {
		t.Error("oauthCode")
	}
}

func TestParseDate(t *testing.T) {
	want := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for _, s := range []string{
		"Tue, 24 Nov 2026 10:00:00 GMT",
		"Mon, 24 Nov 2026 10:00:00 GMT", // wrong weekday: lenient
		"Tue, 24 Nov 2026 11:00:00 +0100",
		"2026-11-24T10:00:00Z",
		"2026-11-24T10:00:00.0000000",
		" 24 Nov 2026 10:00:00 GMT ",
	} {
		if got := parseDate(s); !got.Equal(want) {
			t.Errorf("parseDate(%q) = %v", s, got)
		}
	}
	for _, s := range []string{"", "yesterday", strings.Repeat("9", 100)} {
		if got := parseDate(s); !got.IsZero() {
			t.Errorf("parseDate(%q) = %v", s, got)
		}
	}
}

func TestSeconds(t *testing.T) {
	for raw, want := range map[string]time.Duration{
		`1199`: 1199 * time.Second, `"60"`: time.Minute, `1.5`: 1500 * time.Millisecond,
		`-1`: 0, `"x"`: 0, `null`: 0, `1e300`: 0, `true`: 0, ``: 0,
	} {
		if got := seconds(json.RawMessage(raw)); got != want {
			t.Errorf("seconds(%s) = %v, want %v", raw, got, want)
		}
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add([]byte(owinBody("jsmith")))
	f.Add([]byte(`{"access_token":"a","userName":"u",".issued":"Mon, 02 Jan 2006 15:04:05 GMT","expires_in":"12"}`))
	f.Add([]byte(`{"error":"invalid_grant","error_description":"x"}`))
	f.Add([]byte("\xef\xbb\xbf{}"))
	f.Add([]byte(`{"userName":null,"access_token":[1,2]}`))
	f.Add([]byte(`<html>`))
	f.Add([]byte(`{"userName":"\u0000","access_token":"a"} {}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := parseToken(body, DefaultFields)
		if err != nil {
			if tok != nil {
				t.Fatal("token and error")
			}
			if !errors.Is(err, errNotTokenResponse) {
				t.Fatalf("unexpected error type %v", err)
			}
		} else if tok.UserName == "" || tok.AccessToken == "" || checkUserName(tok.UserName) != "" || tok.ExpiresIn < 0 {
			t.Fatalf("accepted invalid token %#v", tok)
		}
		oe, ok := parseOAuthError(body)
		if ok && oe.Code != "" && oauthCode(oe.Code) != oe.Code {
			t.Fatalf("bad code %q", oe.Code)
		}
		_ = sanitize(string(body), "abcd")
	})
}
