package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/sso"
)

// TestClientIDOfASubjectsShapeRefused (review s19, noticed): the admin API, the console and
// `ssobridge clients add` (all CreateClient) refuse a client id of a member's subject's shape,
// 40 hexadecimal characters (RFC 9068 section 5: a client_credentials token's sub is the
// client id), naming the field, and store nothing.
func TestClientIDOfASubjectsShapeRefused(t *testing.T) {
	f := newFixture(t)
	const id = "5f0c3a9e1b7d2c4a6e8f0b1d3c5a7e9f1b3d5c7a"
	_, _, err := f.svc.CreateClient(context.Background(), "tester",
		admin.Client{ID: id, Name: "Service", RedirectURIs: []string{"https://new.example/cb"}})
	if !errors.Is(err, admin.ErrInvalid) || !strings.Contains(err.Error(), `clients["`+id+`"].id`) {
		t.Fatalf("create %s: %v, want invalid naming the id", id, err)
	}
	if f.storedClient(t, id) != nil {
		t.Fatal("the refused client was stored")
	}
}

// TestStoredClientOfASubjectsShapeNamed (closing s19, noticed by M): a client stored with such an
// id before they were refused is listed and shown with why it is not served (ClientInfo.Unusable;
// the console and `clients list` read it), its registration kept; other clients say nothing.
func TestStoredClientOfASubjectsShapeNamed(t *testing.T) {
	f := newFixture(t)
	const id = "5f0c3a9e1b7d2c4a6e8f0b1d3c5a7e9f1b3d5c7a"
	sc, err := sso.EncodeClient(&sso.ClientConfig{ID: id, Name: "Old", SecretHash: "sha256:" + sso.HashToken("s"),
		RedirectURIs: []string{"https://old.example/cb"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.CreateClient(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	list, err := f.svc.Clients(context.Background(), "tester")
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]string{}
	for _, c := range list {
		named[c.ID] = c.Unusable
	}
	if !strings.Contains(named[id], "member's subject") || named["dyn"] != "" || named["web"] != "" {
		t.Fatalf("Unusable in the list: %q", named)
	}
	one, err := f.svc.Client(context.Background(), "tester", id)
	if err != nil || !strings.Contains(one.Unusable, "member's subject") {
		t.Fatalf("Client(%s): %+v, %v", id, one, err)
	}
}
