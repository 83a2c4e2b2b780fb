package admin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// goneBeforeDelete is the fixture's store with the client removed by another administrator (or
// replica) between RemoveClient's read and its deletion.
type goneBeforeDelete struct{ admin.Store }

func (g goneBeforeDelete) DeleteClientCounted(context.Context, string) (store.ClientRemoval, error) {
	return store.ClientRemoval{Existed: false}, nil
}

// TestRemoveClientRemovedMeanwhile (final read s18 R3-7): a client the store no longer had when
// it came to delete it is ErrNotFound (404 at the admin API), with no audit row of a removal
// that removed nothing, as an unknown id is; before, it answered 200 with zero counts.
func TestRemoveClientRemovedMeanwhile(t *testing.T) {
	f := newFixture(t)
	f.svc.Store = goneBeforeDelete{f.st}
	r, err := f.svc.RemoveClient(context.Background(), "tester", "dyn")
	if !errors.Is(err, admin.ErrNotFound) || r != nil {
		t.Fatalf("RemoveClient = %+v, %v; want ErrNotFound", r, err)
	}
	for _, e := range f.events() {
		if e == "admin.client_remove" {
			t.Fatalf("audit rows %v: a removal that removed nothing was recorded", f.events())
		}
	}
}

// sweepFailed is the fixture's store whose removal committed but whose second pass (the rows
// the client got during it) failed.
type sweepFailed struct{ admin.Store }

func (g sweepFailed) DeleteClientCounted(ctx context.Context, id string) (store.ClientRemoval, error) {
	r, err := g.Store.DeleteClientCounted(ctx, id)
	if err != nil {
		return r, err
	}
	return r, errors.New("delete client: rows it got during the removal: database is locked")
}

// TestRemoveClientRowsLeftIsStillARemoval (review s24 X-8): a removal whose store deleted the
// client but failed to delete the rows it got meanwhile is a removal: audited, answered, not a
// 500 whose retry says 404 with nothing recorded.
func TestRemoveClientRowsLeftIsStillARemoval(t *testing.T) {
	f := newFixture(t)
	f.svc.Store = sweepFailed{f.st}
	r, err := f.svc.RemoveClient(context.Background(), "tester", "dyn")
	if err != nil || r == nil || r.Deleted != "dyn" {
		t.Fatalf("RemoveClient = %+v, %v; want the removal", r, err)
	}
	recorded := false
	for _, e := range f.events() {
		recorded = recorded || e == "admin.client_remove"
	}
	if !recorded {
		t.Fatalf("audit rows %v: the removal is not recorded", f.events())
	}
}
