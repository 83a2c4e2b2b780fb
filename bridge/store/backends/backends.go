package backends

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// Default is the backend used when the store section names none: SQLite in the data dir.
const Default = "sqlite"

// Kinds are the store backends by configuration type.
func Kinds() map[string]store.Kind {
	return map[string]store.Kind{
		"sqlite":   sqlite.Kind(),
		"postgres": postgres.Kind(),
	}
}

// Check returns every problem in the store section, each naming its field.
func Check(c store.Config) []error {
	k, err := kind(c)
	if err != nil {
		return []error{err}
	}
	return k.Check(c)
}

// Open opens the store the section names.
func Open(ctx context.Context, c store.Config) (store.Backend, error) {
	k, err := kind(c)
	if err != nil {
		return nil, err
	}
	st, err := k.Open(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("store (%s): %w", typeOf(c), err)
	}
	return st, nil
}

func typeOf(c store.Config) string {
	if c.Type == "" {
		return Default
	}
	return c.Type
}

func kind(c store.Config) (store.Kind, error) {
	kinds := Kinds()
	k, ok := kinds[typeOf(c)]
	if !ok {
		names := make([]string, 0, len(kinds))
		for n := range kinds {
			names = append(names, n)
		}
		slices.Sort(names)
		return store.Kind{}, fmt.Errorf("store.type: %q is not one of %s", c.Type, strings.Join(names, ", "))
	}
	return k, nil
}
