package sso

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// TestFamilyCacheFootprint: the refresh fast path's cache of families stays under 1 MiB of live
// heap however many families pass through it (a sign-in burst puts each new family in it), and
// an empty one (a process that has not refreshed yet, or never does) holds next to nothing: it
// held 17-22 KB when its map was made for familyCacheSize entries up front.
func TestFamilyCacheFootprint(t *testing.T) {
	var before, empty, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := newFamilyCache(familyCacheSize)
	runtime.GC()
	runtime.ReadMemStats(&empty)
	if grew := int64(empty.HeapAlloc) - int64(before.HeapAlloc); grew > 2<<10 {
		t.Errorf("an empty cache holds %d bytes of live heap, want at most 2 KiB", grew)
	}
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
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(c)
	if n := len(c.m); n != familyCacheSize {
		t.Fatalf("%d families cached, want %d", n, familyCacheSize)
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 1<<20 {
		t.Fatalf("the cache of %d families holds %d bytes of live heap, want at most 1 MiB", familyCacheSize, grew)
	} else {
		t.Logf("%d families: %d bytes (%d per family)", familyCacheSize, grew, grew/familyCacheSize)
	}
}
