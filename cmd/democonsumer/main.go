// Command democonsumer is a small app that signs in through ssobridge and keeps its own
// shadow users table (SQLite), kept right by the bridge's pushes (webhook or SCIM) and ended
// by its back-channel logouts. It shows that table on its home page.
//
//	go run ./cmd/democonsumer --issuer http://localhost:8080 --client-id demo-consumer \
//	    --client-secret ... --listen 127.0.0.1:9090 --db ./democonsumer.db \
//	    --webhook-secret whsec_... --scim-token ...
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/oauth2"
	_ "modernc.org/sqlite"

	"github.com/ssobridge/ssobridge/consumer"
)

// config is the demo app's settings.
type config struct {
	Issuer, ClientID, ClientSecret string
	// Base is the app's own URL (redirect URI base), e.g. http://127.0.0.1:9090.
	Base          string
	DB            string
	WebhookSecret string
	SCIMToken     string
}

// app is the running demo consumer.
type app struct {
	cfg   config
	c     *consumer.Consumer
	oauth *oauth2.Config
	log   *slog.Logger
	db    *sql.DB
}

const cookieName = "democonsumer_session"

func main() {
	var (
		cfg    config
		listen string
	)
	flag.StringVar(&cfg.Issuer, "issuer", "http://localhost:8080", "ssobridge issuer URL")
	flag.StringVar(&cfg.ClientID, "client-id", "demo-consumer", "client id registered at the bridge")
	flag.StringVar(&cfg.ClientSecret, "client-secret", os.Getenv("DEMOCONSUMER_CLIENT_SECRET"), "client secret (or DEMOCONSUMER_CLIENT_SECRET)")
	flag.StringVar(&listen, "listen", "127.0.0.1:9090", "listen address")
	flag.StringVar(&cfg.DB, "db", "./democonsumer.db", "SQLite file of the app's own database")
	flag.StringVar(&cfg.WebhookSecret, "webhook-secret", os.Getenv("DEMOCONSUMER_WEBHOOK_SECRET"), "whsec_ secret of the bridge's webhook target (or DEMOCONSUMER_WEBHOOK_SECRET)")
	flag.StringVar(&cfg.SCIMToken, "scim-token", os.Getenv("DEMOCONSUMER_SCIM_TOKEN"), "bearer token of the bridge's SCIM target (or DEMOCONSUMER_SCIM_TOKEN)")
	flag.Parse()
	cfg.Base = "http://" + listen
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(cfg, listen, log); err != nil {
		fmt.Fprintln(os.Stderr, "democonsumer:", err)
		os.Exit(1)
	}
}

func run(cfg config, listen string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.db.Close()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}
	log.Info("democonsumer listening", "url", cfg.Base, "backchannel_logout_uri", cfg.Base+"/backchannel-logout",
		"webhook_url", cfg.Base+"/webhook", "scim_url", cfg.Base+"/scim/v2")
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newApp opens the app's database and discovers the bridge.
func newApp(ctx context.Context, cfg config, log *slog.Logger) (*app, error) {
	db, err := sql.Open("sqlite", cfg.DB+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg.DB, err)
	}
	db.SetMaxOpenConns(1)
	c, err := consumer.New(ctx, consumer.Config{Issuer: cfg.Issuer, ClientID: cfg.ClientID, DB: db,
		WebhookSecret: cfg.WebhookSecret, SCIMToken: cfg.SCIMToken, Logger: log})
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := c.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return &app{cfg: cfg, c: c, log: log, db: db, oauth: &oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		Endpoint: c.Provider().Endpoint(), RedirectURL: cfg.Base + "/callback",
		Scopes: []string{"openid", "profile", "email", "roles", "membership"}}}, nil
}

func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	mux.HandleFunc("POST /logout", a.logout)
	mux.Handle("POST /backchannel-logout", a.c.BackchannelLogoutHandler())
	mux.Handle("GET /frontchannel-logout", http.HandlerFunc(a.frontchannel))
	mux.Handle("POST /webhook", a.c.WebhookHandler())
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", a.c.SCIMHandler()))
	return mux
}

func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (a *app) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	state, verifier := random(), oauth2.GenerateVerifier()
	a.setCookie(w, "democonsumer_state", state+"."+verifier, 600)
	http.Redirect(w, r, a.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), http.StatusSeeOther)
}

func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ck, err := r.Cookie("democonsumer_state")
	if err != nil || len(ck.Value) < 66 || r.URL.Query().Get("state") != ck.Value[:64] {
		http.Error(w, "bad state", http.StatusBadRequest)
		return
	}
	a.setCookie(w, "democonsumer_state", "", -1)
	if e := r.URL.Query().Get("error"); e != "" {
		http.Error(w, "sign-in failed: "+e, http.StatusForbidden)
		return
	}
	tok, err := a.oauth.Exchange(ctx, r.URL.Query().Get("code"), oauth2.VerifierOption(ck.Value[65:]))
	if err != nil {
		a.log.ErrorContext(ctx, "democonsumer: code exchange failed", "err", err)
		http.Error(w, "sign-in failed", http.StatusBadGateway)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	sess, _, err := a.c.SignIn(ctx, raw)
	if err != nil {
		a.log.ErrorContext(ctx, "democonsumer: sign-in failed", "err", err)
		http.Error(w, "sign-in failed", http.StatusForbidden)
		return
	}
	a.setCookie(w, cookieName, sess.ID, 0)
	a.setCookie(w, "democonsumer_idt", raw, 0)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends the local session and goes through the bridge's end_session (RP-initiated).
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(cookieName); err == nil {
		_ = a.c.EndSession(r.Context(), ck.Value)
	}
	a.setCookie(w, cookieName, "", -1)
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = a.c.Provider().Claims(&meta)
	q := url.Values{"client_id": {a.cfg.ClientID}}
	if ck, err := r.Cookie("democonsumer_idt"); err == nil {
		q.Set("id_token_hint", ck.Value)
	}
	a.setCookie(w, "democonsumer_idt", "", -1)
	http.Redirect(w, r, meta.EndSession+"?"+q.Encode(), http.StatusSeeOther)
}

// frontchannel is the frontchannel_logout_uri: the bridge frames it with iss and sid.
func (a *app) frontchannel(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("iss") == a.cfg.Issuer {
		if ck, err := r.Cookie(cookieName); err == nil {
			if s, err := a.c.Session(r.Context(), ck.Value); err == nil && s.SID == r.URL.Query().Get("sid") {
				_ = a.c.EndSession(r.Context(), ck.Value)
			}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo consumer</title></head><body>
<h1>Demo consumer app</h1>
{{if .Session}}<p id="signed-in">Signed in as <b>{{.Session.Subject}}</b>.</p>
<form method="post" action="/logout"><button>Sign out</button></form>
{{else}}<p id="signed-out">Not signed in. <a href="/login">Sign in with the association</a></p>{{end}}
<h2>Shadow users (this app's own table)</h2>
<table border="1" cellpadding="4"><tr><th>subject</th><th>login</th><th>email</th><th>name</th><th>roles</th><th>active</th><th>membership</th><th>updated</th></tr>
{{range .Users}}<tr><td><code>{{.Subject}}</code></td><td>{{.Login}}</td><td>{{.Email}}</td><td>{{.Name}}</td><td>{{range .Roles}}{{.}} {{end}}</td><td>{{.Active}}</td><td><code>{{printf "%s" .Membership}}</code></td><td>{{.UpdatedAt.Format "2006-01-02 15:04:05"}}</td></tr>
{{end}}</table></body></html>`))

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var data struct {
		Session *consumer.Session
		Users   []consumer.User
	}
	if ck, err := r.Cookie(cookieName); err == nil {
		data.Session, _ = a.c.Session(ctx, ck.Value)
	}
	users, err := a.c.Users(ctx)
	if err != nil {
		a.log.ErrorContext(ctx, "democonsumer: list users failed", "err", err)
		http.Error(w, "database error", http.StatusInternalServerError)
		return
	}
	data.Users = users
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := homePage.Execute(w, data); err != nil {
		a.log.ErrorContext(ctx, "democonsumer: render failed", "err", err)
	}
}
