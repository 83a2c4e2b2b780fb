package sso

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Registry resolves clients: static ones from the config file, merged in memory with dynamic
// ones from the ClientStore. Dynamic clients are cached and reloaded when the store's
// ClientsVersion changes, so the CLI can change clients while the server runs: checked by a
// lookup at most every checkEvery, or, with checkEvery 0, only when Refresh is called (the
// bridge calls it on a change notification and periodically: lookups are memory reads).
type Registry struct {
	store      ClientStore
	static     map[string]*ClientConfig
	checkEvery time.Duration

	// reloading runs reloads one at a time: two at once (a notification's Refresh and the
	// poll's) could finish out of order, leaving the older one's clients or failure in place.
	reloading sync.Mutex

	mu        sync.RWMutex
	dynamic   map[string]*ClientConfig
	version   int64
	lastErr   error        // the last reload's failure, whoever called it; nil after one succeeded
	checkedAt atomic.Int64 // unix nanos of the last successful check (the cache is current)
	origins   atomic.Pointer[[]string]
}

// NewRegistry validates the static clients (filling their defaults) and loads the dynamic ones.
func NewRegistry(ctx context.Context, store ClientStore, static []ClientConfig, checkEvery time.Duration) (*Registry, error) {
	r := &Registry{store: store, static: map[string]*ClientConfig{}, dynamic: map[string]*ClientConfig{}, checkEvery: checkEvery}
	for i := range static {
		c := static[i]
		c.FillDefaults()
		if err := c.Validate(); err != nil {
			return nil, err
		}
		if _, dup := r.static[c.ID]; dup {
			return nil, fmt.Errorf("clients[%s].id: duplicate client id", c.ID)
		}
		r.static[c.ID] = &c
	}
	if err := r.reload(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Refresh reloads the dynamic clients when the store's ClientsVersion moved.
func (r *Registry) Refresh(ctx context.Context) error { return r.reload(ctx) }

// reload checks the store's ClientsVersion and loads the clients when it moved. Its failure,
// whether a lookup (maybeReload) or Refresh called it, is kept until a reload succeeds, so that
// every lookup of an id the cache lacks hears of it (ClientConfig); the check time is recorded
// only once the cache is current, so a failed check is retried at the next due lookup.
func (r *Registry) reload(ctx context.Context) error {
	r.reloading.Lock()
	defer r.reloading.Unlock()
	return r.reloadLocked(ctx)
}

// reloadLocked is reload for a caller holding r.reloading.
func (r *Registry) reloadLocked(ctx context.Context) error {
	err := r.load(ctx)
	r.mu.Lock()
	r.lastErr = err
	r.mu.Unlock()
	if err != nil {
		return err
	}
	r.checkedAt.Store(time.Now().UnixNano())
	return nil
}

func (r *Registry) load(ctx context.Context) error {
	v, err := r.store.ClientsVersion(ctx)
	if err != nil {
		return fmt.Errorf("clients: version: %w", err)
	}
	r.mu.RLock()
	same := v == r.version && r.version != 0
	r.mu.RUnlock()
	if same {
		return nil
	}
	stored, err := r.store.Clients(ctx)
	if err != nil {
		return fmt.Errorf("clients: load: %w", err)
	}
	dyn := make(map[string]*ClientConfig, len(stored))
	for _, sc := range stored {
		c, err := DecodeClient(sc)
		if err != nil {
			return err
		}
		if _, clash := r.static[c.ID]; clash {
			continue // the config file wins
		}
		dyn[c.ID] = c
	}
	r.mu.Lock()
	r.dynamic, r.version = dyn, v
	r.mu.Unlock()
	r.computeOrigins()
	return nil
}

func (r *Registry) computeOrigins() {
	var out []string
	r.mu.RLock()
	for _, m := range []map[string]*ClientConfig{r.static, r.dynamic} {
		for _, c := range m {
			for _, o := range c.WebOrigins {
				if !slices.Contains(out, o) {
					out = append(out, o)
				}
			}
		}
	}
	r.mu.RUnlock()
	r.origins.Store(&out)
}

// maybeReload reloads when checkEvery has passed since the last successful check. A failure
// is kept (reload) and the cached clients stay as they were.
func (r *Registry) maybeReload(ctx context.Context) {
	if r.checkEvery <= 0 {
		return
	}
	if time.Since(time.Unix(0, r.checkedAt.Load())) < r.checkEvery {
		return
	}
	// A lookup does not wait for a reload already running (a store that does not answer would
	// hold every lookup for its timeout): it reads the cache and that reload's outcome so far.
	if !r.reloading.TryLock() {
		return
	}
	defer r.reloading.Unlock()
	_ = r.reloadLocked(ctx)
}

// ClientConfig implements ClientSource. While the last reload failed (a due one here, or
// Refresh: with checkEvery 0 the bridge reloads only through it), a cached client is still
// served, but an id the cache does not have is the store's failure, not ErrNotFound: the client
// may have been added meanwhile, and an unknown client is the client's error (invalid_client,
// RFC 6749 5.2) while a store that cannot answer is the server's (server_error, logged).
func (r *Registry) ClientConfig(ctx context.Context, id string) (*ClientConfig, error) {
	if c, ok := r.static[id]; ok {
		return c, nil
	}
	r.maybeReload(ctx)
	r.mu.RLock()
	c, ok := r.dynamic[id]
	reloadErr := r.lastErr
	r.mu.RUnlock()
	switch {
	case ok:
		return c, nil
	case reloadErr != nil:
		return nil, fmt.Errorf("client %q: %w", id, reloadErr)
	}
	return nil, ErrNotFound
}

// All lists every client, static first, sorted by id within each group.
func (r *Registry) All(ctx context.Context) []*ClientConfig {
	r.maybeReload(ctx) // on failure list the cached clients
	var st, dy []*ClientConfig
	r.mu.RLock()
	for _, c := range r.static {
		st = append(st, c)
	}
	for _, c := range r.dynamic {
		dy = append(dy, c)
	}
	r.mu.RUnlock()
	byID := func(a, b *ClientConfig) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	}
	slices.SortFunc(st, byID)
	slices.SortFunc(dy, byID)
	return append(st, dy...)
}

// Origins returns every registered web origin.
func (r *Registry) Origins() []string {
	if p := r.origins.Load(); p != nil {
		return *p
	}
	return nil
}

// IsStatic reports whether id comes from the config file.
func (r *Registry) IsStatic(id string) bool { _, ok := r.static[id]; return ok }
