package bridgetest

import (
	"context"
	"sync/atomic"

	"github.com/ssobridge/ssobridge/legacy"
)

// Counting is the test directory d counting its member lookups by key (MemberByKey, what the
// bridge reads behind a session), so that a test can show how often a path asks the AMS. Every
// other method is d's.
type Counting struct {
	*Directory
	byKey atomic.Int64
}

var _ legacy.Directory = (*Counting)(nil)

// NewCounting wraps d.
func NewCounting(d *Directory) *Counting { return &Counting{Directory: d} }

// MemberByKey counts the lookup and asks d.
func (c *Counting) MemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	c.byKey.Add(1)
	return c.Directory.MemberByKey(ctx, key)
}

// ByKey is how many lookups by key were made.
func (c *Counting) ByKey() int64 { return c.byKey.Load() }
