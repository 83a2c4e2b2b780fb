package bridge_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"golang.org/x/oauth2"
)

// dbCopy is what a copy of the database file (a backup) gives an attacker.
type dbCopy struct {
	secrets  map[string][]byte
	sessions []string
}

func readDBCopy(t *testing.T, path string) dbCopy {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := dbCopy{secrets: map[string][]byte{}}
	rows, err := db.Query(`SELECT name, value FROM secrets`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		var v []byte
		if err := rows.Scan(&n, &v); err != nil {
			t.Fatal(err)
		}
		c.secrets[n] = v
	}
	rows.Close()
	rows, err = db.Query(`SELECT id FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		c.sessions = append(c.sessions, id)
	}
	rows.Close()
	return c
}

// forgeCookie builds the bridge's cookie with the given keys and values ("" when the keys do
// not make a codec).
func forgeCookie(hashKey, blockKey []byte, values map[any]any) string {
	v, err := securecookie.EncodeMulti("ssobridge", values, securecookie.New(hashKey, blockKey))
	if err != nil {
		return ""
	}
	return v
}

// forgeOpSealed seals plain as the provider's crypto does, with key ("" when it is no key).
func forgeOpSealed(key []byte, plain string) string {
	if len(key) > 32 {
		key = key[:32]
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return ""
	}
	gcm, _ := cipher.NewGCM(block)
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(plain), []byte("ssobridge/op-crypto/v1")))
}

// signedIn reports whether a request with the cookies is signed in at /account.
func signedIn(t *testing.T, e *env, path string, cookies ...*http.Cookie) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer+path, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if path != "/account" {
		// Follow the hand-off to the account page with the cookies it set.
		next := append([]*http.Cookie{}, cookies...)
		next = append(next, resp.Cookies()...)
		return resp.StatusCode == http.StatusSeeOther && signedIn(t, e, "/account", next...)
	}
	return resp.StatusCode == http.StatusOK
}

// TestDatabaseAloneForgesNothing: with only a copy of the database file, forging the bridge's
// cookie (with or without a session id from the file), or a hand-off ticket for any member,
// signs nobody in (issue 10: the secrets table was plaintext and sessions were stored by id).
func TestDatabaseAloneForgesNothing(t *testing.T) {
	e := newEnvWith(t, true)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password")
	c := readDBCopy(t, e.dbPath)
	if len(c.secrets) == 0 || len(c.sessions) != 1 {
		t.Fatalf("database copy: %d secrets, %d sessions", len(c.secrets), len(c.sessions))
	}
	for name, v := range c.secrets {
		if !bytes.HasPrefix(v, []byte("ssobridge-sealed-secret-v1:")) {
			t.Errorf("secret %s is stored in the clear", name)
		}
	}

	// A cookie for the stored session, sealed with the stored cookie keys.
	cookie := forgeCookie(c.secrets["cookie_hash_v1"], c.secrets["cookie_block_v1"], map[any]any{"sid": c.sessions[0], "bid": "x"})
	if cookie != "" && signedIn(t, e, "/account", &http.Cookie{Name: "ssobridge", Value: cookie}) {
		t.Fatal("a cookie forged from the database signed in")
	}

	// Even with the real cookie keys (opened here with the test's key-encryption key), the
	// stored session id is not what the cookie holds.
	hashKey, blockKey := openTestSecret(t, c, "cookie_hash_v1"), openTestSecret(t, c, "cookie_block_v1")
	if signedIn(t, e, "/account", &http.Cookie{Name: "ssobridge", Value: forgeCookie(hashKey, blockKey, map[any]any{"sid": c.sessions[0], "bid": "x"})}) {
		t.Fatal("the session id stored in the database signed in")
	}

	// A hand-off ticket for alice, sealed with the stored provider key.
	ticket, _ := json.Marshal(map[string]any{"k": "11111111-1111-1111-1111-111111111111", "u": "alice", "n": "nonce",
		"e": time.Now().Add(time.Minute)})
	if h := forgeOpSealed(c.secrets["op_crypto_v1"], "ssobridge/handoff-ticket/v1\n"+string(ticket)); h != "" &&
		signedIn(t, e, "/handoff/continue?h="+url.QueryEscape(h), &http.Cookie{Name: "ssobridge_handoff", Value: "nonce"}) {
		t.Fatal("a hand-off ticket forged from the database signed in")
	}
}

// openTestSecret opens a sealed secret with the harness's key-encryption key (32 zero bytes);
// a secret in the clear is returned as is.
func openTestSecret(t *testing.T, c dbCopy, name string) []byte {
	t.Helper()
	v := c.secrets[name]
	body, ok := bytes.CutPrefix(v, []byte("ssobridge-sealed-secret-v1:"))
	if !ok {
		return v
	}
	block, _ := aes.NewCipher(make([]byte, 32))
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, body[:gcm.NonceSize()], body[gcm.NonceSize():], []byte("ssobridge secret "+name))
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	return plain
}
