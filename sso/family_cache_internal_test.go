package sso

import (
	"fmt"
	"maps"
	"reflect"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// TestFamilyCacheFootprint: the refresh fast path's cache of families stays under 1 MiB however
// many families pass through it (a sign-in burst puts each new family in it), and an empty one
// (a process that has not refreshed yet, or never does) holds next to nothing: it held 17-22 KB
// when its map was made for familyCacheSize entries up front.
//
// It counts what the cache holds, not the live heap around it: the live heap moves with whatever
// else the process does meanwhile (the empty case failed once under load at 2680 bytes, and
// passed alone; with another goroutine allocating, the full case read anything from -6 MB to
// +1.5 MB). The empty cache is what newFamilyCache allocates; the full one, its map's storage
// (what a map of its entries allocates) and the strings and slices its entries hold (each once).
func TestFamilyCacheFootprint(t *testing.T) {
	if n := allocatedBytes(100, func() { sinkFamilyCache = newFamilyCache(familyCacheSize) }); n > 2<<10 {
		t.Errorf("an empty cache holds %d bytes, want at most 2 KiB", n)
	} else {
		t.Logf("an empty cache: %d bytes", n)
	}
	sinkFamilyCache = nil
	c := newFamilyCache(familyCacheSize)
	now := time.Now()
	for i := range 4 * familyCacheSize {
		// Fresh strings and slices per family, as the store's scans and the token code make them.
		client := fmt.Sprintf("client-%d", i%8)
		c.put(&RefreshToken{
			Hash:      fmt.Sprintf("%064x", i),
			FamilyID:  fmt.Sprintf("fam%040d", i),
			ClientID:  client,
			Subject:   fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i),
			Audience:  []string{client},
			Scopes:    []string{fmt.Sprint("openid"), fmt.Sprint("profile"), fmt.Sprint("email"), fmt.Sprint("offline_access")},
			SessionID: fmt.Sprintf("sid%040d", i),
			AuthTime:  now,
			AMR:       []string{fmt.Sprint("pwd")},
			CreatedAt: now,
			ExpiresAt: now.Add(time.Hour),
		})
	}
	if n := len(c.m); n != familyCacheSize {
		t.Fatalf("%d families cached, want %d", n, familyCacheSize)
	}
	storage := allocatedBytes(10, func() { sinkFamilies = maps.Clone(c.m) })
	sinkFamilies = nil
	held := storage + heldBytes(c.m)
	if held > 1<<20 {
		t.Fatalf("the cache of %d families holds %d bytes, want at most 1 MiB", familyCacheSize, held)
	}
	t.Logf("%d families: %d bytes (%d per family; the map's storage %d)", familyCacheSize, held, held/familyCacheSize, storage)
}

// What allocatedBytes measures is kept here, so that it is allocated on the heap.
var (
	sinkFamilyCache *familyCache
	sinkFamilies    map[string]RefreshToken
)

// allocatedBytes is the least, over five rounds, of the bytes f allocates per call, averaged over
// runs calls with one P (as testing.AllocsPerRun): a round can only count more than f's own
// allocations (another goroutine allocating meanwhile), never fewer, and the total counts every
// byte allocated whatever the garbage collector frees meanwhile.
func allocatedBytes(runs uint64, f func()) uint64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f() // a first call's one-time costs
	least := ^uint64(0)
	var before, after runtime.MemStats
	for range 5 {
		runtime.ReadMemStats(&before)
		for range runs {
			f()
		}
		runtime.ReadMemStats(&after)
		least = min(least, (after.TotalAlloc-before.TotalAlloc)/runs)
	}
	return least
}

// heldBytes is the bytes of the strings and slice arrays that m's keys and entries refer to, each
// array counted once however many refer to it (a family's audience and client id share one).
func heldBytes(m map[string]RefreshToken) uint64 {
	seen := map[uintptr]bool{}
	var n uint64
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			if p := uintptr(unsafe.Pointer(unsafe.StringData(v.String()))); v.Len() > 0 && !seen[p] {
				seen[p] = true
				n += uint64(v.Len())
			}
		case reflect.Slice:
			if p := v.Pointer(); v.Cap() > 0 && !seen[p] {
				seen[p] = true
				n += uint64(v.Cap()) * uint64(v.Type().Elem().Size())
			}
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i))
			}
		}
	}
	for k, f := range m {
		walk(reflect.ValueOf(k))
		walk(reflect.ValueOf(f))
	}
	return n
}
