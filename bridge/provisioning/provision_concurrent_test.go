package provisioning_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/bridge/store/storetest"
	"github.com/ssobridge/ssobridge/legacy"
)

// holdFirst holds the AMS's answer to the first look-up of one member until proceed is
// closed (a slow AMS, or a sign-in that read the member and has not written yet); reads counts
// that member's look-ups.
type holdFirst struct {
	*listing
	key     string
	read    chan struct{}
	proceed chan struct{}
	reads   atomic.Int32
}

func (h *holdFirst) MemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	m, err := h.listing.MemberByKey(ctx, key)
	if key == h.key && h.reads.Add(1) == 1 {
		close(h.read)
		<-h.proceed
	}
	return m, err
}

// countingSubjects is a store that counts SubjectByID calls per subject (TestStoreFakesConformance).
type countingSubjects struct {
	store.Store
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingSubjects) SubjectByID(ctx context.Context, subject string) (*store.Subject, error) {
	c.mu.Lock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[subject]++
	c.mu.Unlock()
	return c.Store.SubjectByID(ctx, subject)
}

func (c *countingSubjects) count(subject string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[subject]
}

// TestStoreFakesConformance: the store wrappers of the provisioning tests pass the store
// conformance suite over SQLite, as every fake must: they change nothing of what the store does.
func TestStoreFakesConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return &countingSubjects{Store: s}
	})
}

const bobKey = "22222222-2222-2222-2222-222222222222"

// TestProvisionMembersConcurrently: sign-ins of members that share no shadow user provision
// at the same time: while bob's provisioning waits for the AMS, dave's completes (before, every
// sign-in to an app with a provisioning target took the sync lock, one at a time per process
// and cluster). Two sign-ins of one member do not both create the shadow user: the one that
// read first finds its write refused (the shadow user was written since), reads again and
// writes nothing; one user.created in all.
func TestProvisionMembersConcurrently(t *testing.T) {
	r := newReconcileFixture(t)
	ctx := t.Context()
	if err := r.st.PutSubject(ctx, &store.Subject{Subject: "sub-dave", MemberKey: daveKey, Login: "dave"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	hold := &holdFirst{listing: r.list, key: bobKey, read: make(chan struct{}), proceed: make(chan struct{})}
	r.opts.Directory = hold
	subjects := &countingSubjects{Store: r.st}
	r.opts.Store = subjects
	r.start()
	svc := r.svc

	first := make(chan error, 1)
	go func() { first <- svc.Provision(ctx, "portal", "sub-bob", nil) }()
	<-hold.read // bob's first sign-in waits for the AMS
	done := func(what string, fn func() error) {
		t.Helper()
		ch := make(chan error, 1)
		go func() { ch <- fn() }()
		select {
		case err := <-ch:
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(10 * time.Second):
			close(hold.proceed)
			t.Fatalf("%s waited for bob's first provisioning", what)
		}
	}
	done("dave's provisioning", func() error { return svc.Provision(ctx, "portal", "sub-dave", nil) })
	done("bob's second sign-in", func() error { return svc.Provision(ctx, "portal", "sub-bob", nil) })
	close(hold.proceed)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := hold.reads.Load(); n != 3 {
		t.Errorf("bob read %d times from the AMS, want 3 (the first sign-in's write refused, read again)", n)
	}
	if n := subjects.count("sub-bob"); n != 2 {
		t.Errorf("bob's subject read %d times, want 2 (once per sign-in: a read again keeps the member key)", n)
	}
	created := map[string]int{}
	for _, e := range r.events() {
		if e.Type == "user.created" {
			created[e.Subject]++
		}
	}
	if created["sub-bob"] != 1 || created["sub-dave"] != 1 {
		t.Fatalf("user.created events per subject: %v, want one for bob and one for dave; events: %v", created, r.queued())
	}
	for _, sub := range []string{"sub-bob", "sub-dave"} {
		if u := r.shadowUser(sub); !u.Active {
			t.Errorf("%s: shadow user %+v, want active", sub, u)
		}
	}
}
