package saml

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// failingSPs is an SPStore whose reads of the registered SPs fail while failing is set.
type failingSPs struct {
	SPStore
	failing atomic.Bool
}

func (s *failingSPs) SAMLServiceProviders(ctx context.Context) ([]*store.SAMLServiceProvider, error) {
	if s.failing.Load() {
		return nil, errors.New("database is locked")
	}
	return s.SPStore.SAMLServiceProviders(ctx)
}

// TestBackChannelLeavesUnreadSPUnresolved (O5's leftover, s23): a participant SP whose read
// fails (the store busy) comes back unresolved, so that the end reads it again (and audits it
// at its last try); before, it was taken for an SP without a SOAP logout service and got no
// event, unseen. An SP that is gone gets none, resolved; one read gets its LogoutRequest.
func TestBackChannelLeavesUnreadSPUnresolved(t *testing.T) {
	ctx := t.Context()
	st, _ := sqliteRegistries(t, 0)
	const mail = "https://mail.example.org"
	rec, err := Record(config.SAMLServiceProvider{ID: "mail", AllowInsecureSOAPSLO: true},
		spMetadataWithSOAP(t, mail, "http://127.0.0.1:1/soap"), mail, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSAMLServiceProvider(ctx, rec); err != nil {
		t.Fatal(err)
	}
	fs := &failingSPs{SPStore: st}
	reg, err := NewRegistry(config.SAMLConfig{}, fs, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := &Logouts{Registry: reg}
	sess := &sso.Session{ID: "s-1", Subject: "sub-1"}
	ps := []*store.SAMLParticipant{{SessionID: "s-1", SP: mail, NameID: "n", SessionIndex: "ix"},
		{SessionID: "s-1", SP: "https://gone.example.org", NameID: "n", SessionIndex: "ix2"}}
	sps := []string{mail, "https://gone.example.org"}

	fs.failing.Store(true)
	evs, unresolved := l.BackChannel(ctx, sps)(sess, ps)
	if len(evs) != 0 || len(unresolved) != 2 {
		t.Fatalf("store failing: events %d, unresolved %v; want none and both unresolved (read again)", len(evs), unresolved)
	}
	fs.failing.Store(false)
	evs, unresolved = l.BackChannel(ctx, sps)(sess, ps)
	if len(evs) != 1 || evs[0].ClientID != "mail" || len(unresolved) != 0 {
		t.Fatalf("store back: %d events, unresolved %v; want mail's LogoutRequest, the gone SP resolved without one", len(evs), unresolved)
	}
}
