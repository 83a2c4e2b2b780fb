package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/admin"
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
	if _, stored := f.st.clients[id]; stored {
		t.Fatal("the refused client was stored")
	}
}
