package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// NewStore returns an empty store for one subtest. It should register its own cleanup (t.Cleanup)
// and fail the test itself when it cannot create the store.
type NewStore func(t *testing.T) sso.Store

// Run runs every conformance test against stores made by newStore. Each subtest gets a fresh,
// empty store.
func Run(t *testing.T, newStore NewStore) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"AuthRequests", authRequestTests},
		{"Tokens", tokenTests},
		{"Rotation", rotationTests},
		{"Sessions", sessionTests},
		{"Keys", keyTests},
		{"Clients", clientTests},
		{"Secrets", secretTests},
		{"Purge", purgeTests},
		{"Device", deviceTests},
		{"Ping", []test{{"Ping", testPing}}},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(t, newHarness(t, newStore(t)))
				})
			}
		})
	}
}

type test struct {
	name string
	fn   func(t *testing.T, h *H)
}

// H bundles what a conformance test needs. It is exported so that suites of stores that embed
// sso.Store (the bridge store) can reuse the helpers.
type H struct {
	T   *testing.T
	S   sso.Store
	Ctx context.Context
	// Now is the wall-clock time at the start of the test, truncated to milliseconds so that
	// backends with millisecond or microsecond timestamps round-trip it exactly.
	Now time.Time
}

func newHarness(t *testing.T, s sso.Store) *H {
	return &H{T: t, S: s, Ctx: t.Context(), Now: Now()}
}

// Now returns the current time truncated to milliseconds, in UTC.
func Now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// RandomID returns 256 random bits in hex: a fresh id or token hash.
func RandomID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// NoErr fails the test now when err is not nil.
func NoErr(t testing.TB, err error, what string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", fmt.Sprintf(what, args...), err)
	}
}

// IsErr fails the test now unless errors.Is(err, target).
func IsErr(t testing.TB, err, target error, what string, args ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", fmt.Sprintf(what, args...), err, target)
	}
}

// SomeErr fails the test now when err is nil.
func SomeErr(t testing.TB, err error, what string, args ...any) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want one", fmt.Sprintf(what, args...))
	}
}

// Equal fails the test now unless got and want are deeply equal once normalised: times are
// compared as instants (location and monotonic reading ignored) and nil and empty slices are
// the same.
func Equal(t testing.TB, got, want any, what string, args ...any) {
	t.Helper()
	g, w := Normalize(got), Normalize(want)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got: %+v\nwant: %+v", fmt.Sprintf(what, args...), deref(g), deref(w))
	}
}

// SameSet fails the test now unless got and want hold the same strings in any order.
func SameSet(t testing.TB, got, want []string, what string, args ...any) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if len(g) == 0 && len(w) == 0 {
		return
	}
	if !slices.Equal(g, w) {
		t.Fatalf("%s: got %q, want %q", fmt.Sprintf(what, args...), got, want)
	}
}

func deref(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return rv.Elem().Interface()
	}
	return v
}

var timeType = reflect.TypeFor[time.Time]()

// Normalize returns a deep copy of v with times in UTC without monotonic reading and empty
// slices as nil.
func Normalize(v any) any {
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	out := reflect.New(rv.Type()).Elem()
	normalize(out, rv)
	return out.Interface()
}

func normalize(dst, src reflect.Value) {
	switch {
	case src.Type() == timeType:
		t := src.Interface().(time.Time)
		if !t.IsZero() {
			t = t.UTC()
		} else {
			t = time.Time{}
		}
		dst.Set(reflect.ValueOf(t))
	case src.Kind() == reflect.Pointer:
		if src.IsNil() {
			return
		}
		p := reflect.New(src.Type().Elem())
		normalize(p.Elem(), src.Elem())
		dst.Set(p)
	case src.Kind() == reflect.Struct:
		for i := range src.NumField() {
			if !dst.Field(i).CanSet() {
				dst.Set(src) // unexported fields: copy as is
				return
			}
			normalize(dst.Field(i), src.Field(i))
		}
	case src.Kind() == reflect.Slice:
		if src.Len() == 0 {
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			normalize(s.Index(i), src.Index(i))
		}
		dst.Set(s)
	default:
		dst.Set(src)
	}
}

// Parallel runs fn n times concurrently, starting all at once, and returns the errors.
func Parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	for range n {
		<-done
	}
	return errs
}
