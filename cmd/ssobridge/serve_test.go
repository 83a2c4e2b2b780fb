package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ssobridge/ssobridge/bridge/procmem"
)

// freeAddr returns a loopback address nothing listens on (just now).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestServeAdminPortTaken: a taken admin port stops start-up before anything is served, and
// the public port is released (it used to stay bound and serving until the process exited).
func TestServeAdminPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	public := freeAddr(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	body := "issuer: http://127.0.0.1:" + strings.Split(public, ":")[1] + "\n" +
		"admin:\n  listen: " + taken.Addr().String() + "\n  token: 0123456789abcdef0123456789abcdef\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = run(t, "serve", "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--listen", public)
	if err == nil || !strings.Contains(err.Error(), "admin.listen") {
		t.Fatalf("want an admin.listen error, got %v", err)
	}
	l, err := net.Listen("tcp", public)
	if err != nil {
		t.Fatalf("the public port is still held after start-up failed: %v", err)
	}
	l.Close()
}

// TestServeReleasesBinaryPages: serve's default (memory.binary_pages: evict) leaves the
// executable's code and read-only data reading one page at a time (VmFlags rr, MADV_RANDOM), as
// bridge/procmem sets after dropping them; TestReleaseEvicts there checks the drop itself.
func TestServeReleasesBinaryPages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("procmem releases pages on Linux only")
	}
	stop := serveUp(t, "")
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Serving: the pages were released after initialisation (before the store opened), and
	// once more after start-up.
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	if !exeMappingsRandom(string(smaps), exe) {
		t.Fatal("serving, and the executable's read-only mappings are not all VmFlags rr")
	}
}

// serveUp runs `ssobridge serve` in the test's process on a loopback port with a config of
// log level warn and extra (YAML lines), and returns once discovery answers; stop ends it and
// returns serve's error.
func serveUp(t *testing.T, extra string) (stop func() error) {
	t.Helper()
	_, stop = serveUpAt(t, extra)
	return stop
}

// serveUpAt is serveUp that also returns the address served.
func serveUpAt(t *testing.T, extra string) (public string, stop func() error) {
	t.Helper()
	public = freeAddr(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	body := "issuer: http://127.0.0.1:" + strings.Split(public, ":")[1] + "\nlog: {level: warn}\n" + extra
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		cmd := rootCmd()
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.SetArgs([]string{"serve", "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--listen", public})
		done <- cmd.ExecuteContext(ctx)
	}()
	for {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve stopped: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		resp, err := http.Get("http://" + public + "/.well-known/openid-configuration")
		if err != nil {
			continue
		}
		resp.Body.Close()
		return public, func() error {
			cancel()
			return <-done
		}
	}
}

// exeMappingsRandom reports whether the executable's read-only mappings in smaps all carry
// VmFlags rr.
func exeMappingsRandom(smaps, exe string) bool {
	var readOnly, random int
	inExe, anonymous := false, false
	for line := range strings.Lines(smaps) {
		f := strings.Fields(line)
		switch {
		case len(f) >= 6 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			inExe = f[5] == exe && len(f[1]) == 4 && f[1][1] == '-'
			anonymous = false
		case inExe && len(f) >= 2 && f[0] == "Anonymous:":
			// A read-only mapping with private pages (RELRO of an externally linked build, as a
			// cgo package makes it) is never released.
			anonymous = f[1] != "0"
		case inExe && !anonymous && len(f) > 0 && f[0] == "VmFlags:":
			readOnly++
			if slices.Contains(f[1:], "rr") {
				random++
			}
		}
	}
	return readOnly > 0 && random == readOnly
}

// lockedBuffer collects the log of a server running in the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServeLogWrittenOnShutdown: serve writes its log in batches; every request's line is
// in the log once serve has returned, however soon after the requests it was stopped.
func TestServeLogWrittenOnShutdown(t *testing.T) {
	addr := freeAddr(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("issuer: http://"+addr+"\nlog: {level: info, format: json}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var log lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := rootCmdWith(&globals{logTo: &log})
	cmd.SetOut(io.Discard)
	cmd.SetArgs([]string{"serve", "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--listen", addr})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	get := func(id string) error {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/keys", nil)
		req.Header.Set("X-Request-Id", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	for get("warm-up") != nil { // until serve listens (or the test's deadline)
		select {
		case err := <-done:
			t.Fatalf("serve returned: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	var ids []string
	for i := range 20 {
		ids = append(ids, fmt.Sprintf("shutdown-test-%02d", i))
		if err := get(ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	out := log.String()
	for _, id := range ids {
		if n := strings.Count(out, `"request_id":"`+id+`"`); n != 1 {
			t.Errorf("request %s: %d log lines", id, n)
		}
	}
	if !strings.Contains(out, `"msg":"shutting down"`) {
		t.Errorf("no shutdown line in the log:\n%s", out)
	}
}

// TestServeSetsGCPercent: serve sets the collector's target from memory.gc_percent (the
// configuration's value reaches the runtime), unless GOGC is set.
func TestServeSetsGCPercent(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	stop := serveUp(t, "memory: {binary_pages: keep, gc_percent: 230}\n")
	got := debug.SetGCPercent(100)
	if err := stop(); err != nil {
		t.Error(err)
	}
	if got != 230 {
		t.Errorf("serving with memory.gc_percent 230, the collector's target is %d", got)
	}
}

// TestServeKeepsTheHeapFloor: serve keeps the heap goal at memory.heap_floor_mb after its
// collections (the test's live heap is far below 48 MB), and sets the target back when it
// stops.
func TestServeKeepsTheHeapFloor(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	const floor = 48 << 20
	stop := serveUp(t, "memory: {binary_pages: keep, heap_floor_mb: 48}\n")
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/gogc:percent"}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
		metrics.Read(s)
		if g := s[0].Value.Uint64(); g >= floor-floor/50 && g <= floor+(1<<20) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serving with memory.heap_floor_mb 48: heap goal %d MB at GOGC %d", s[0].Value.Uint64()>>20, s[1].Value.Uint64())
		}
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("serve stopped: the collector's target is %d, want memory.gc_percent (100)", got)
	}
}

// TestHeapFloorGOGCStands: with GOGC set, memory.heap_floor_mb is not applied.
func TestHeapFloorGOGCStands(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	f := startHeapFloor(slog.New(slog.DiscardHandler), 64, 100, "100")
	defer f.Stop()
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC=100 set, memory.heap_floor_mb 64: the target is %d", got)
	}
}

// TestSetGCPercentGOGCStands: with GOGC set, memory.gc_percent is not applied.
func TestSetGCPercentGOGCStands(t *testing.T) {
	old := debug.SetGCPercent(120)
	defer debug.SetGCPercent(old)
	log := slog.New(slog.DiscardHandler)
	setGCPercent(log, 300, "120")
	if got := debug.SetGCPercent(120); got != 120 {
		t.Errorf("GOGC=120 set, memory.gc_percent 300: the target is %d", got)
	}
	setGCPercent(log, 300, "")
	if got := debug.SetGCPercent(120); got != 300 {
		t.Errorf("GOGC unset, memory.gc_percent 300: the target is %d", got)
	}
}

// TestServeReleasesBinaryPagesEvery: while serving, the read-only file pages mapped since
// start-up are unmapped again every memory.release_every (bridge/procmem.Trimmer), once the
// process has faulted pages in. The test maps a read-only file named like a shared library
// (the executable's own pages come back at once: the runtime uses them), before serve starts
// (a Trimmer unmaps only what was mapped at start-up: review s28 R8-2), and touches it: its
// pages are mapped, then unmapped by a release, and nothing maps them back.
func TestServeReleasesBinaryPagesEvery(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("procmem releases pages on Linux only")
	}
	page := os.Getpagesize()
	m := mapFakeLibrary(t, "libtrimtest.so.1")
	stop := serveUp(t, "memory: {release_every: 100ms}\n")
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	var sum int
	for i := 0; i < len(m); i += page {
		sum += int(m[i])
	}
	if sum != 7*64 {
		t.Fatalf("read %d", sum)
	}
	if n := presentPages(t, m); n != 64 {
		t.Fatalf("%d of the file's 64 pages mapped after reading them", n)
	}
	faultInForARelease(t)
	deadline := time.Now().Add(10 * time.Second)
	for presentPages(t, m) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of the file's pages still mapped 10 s later with memory.release_every 100ms", presentPages(t, m))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m[5*page] != 7 {
		t.Fatal("the file reads differently after the release")
	}
}

// mapFakeLibrary writes a read-only file named like a shared library (name: libX.so.N) of 64
// pages of 7s and maps it private and read-only, as the loader maps a library's text; both go
// when the test ends.
func mapFakeLibrary(t *testing.T, name string) []byte {
	t.Helper()
	page := os.Getpagesize()
	lib := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(lib, bytes.Repeat([]byte{7}, 64*page), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, 64*page, unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(m) })
	return m
}

// faultInForARelease faults in fresh anonymous pages, enough for the next release to act
// (procmem.TrimMinFaults).
func faultInForARelease(t *testing.T) {
	t.Helper()
	page := os.Getpagesize()
	b, err := unix.Mmap(-1, 0, 2*procmem.TrimMinFaults*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(b); i += page {
		b[i] = 1
	}
	unix.Munmap(b)
}

// presentPages counts the pages of b mapped in the process (/proc/self/pagemap, bit 63).
func presentPages(t *testing.T, b []byte) int {
	t.Helper()
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := uintptr(os.Getpagesize())
	first := uintptr(unsafe.Pointer(&b[0])) / page
	entries := make([]byte, 8*(uintptr(len(b))/page))
	if _, err := f.ReadAt(entries, int64(first*8)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := 0; i < len(entries); i += 8 {
		if entries[i+7]&0x80 != 0 {
			n++
		}
	}
	return n
}

// TestServeReleaseEveryNotWithKeep (review s28 R8-7): under memory.binary_pages: keep nothing
// is released, memory.release_every or not: a read-only file named like a shared library,
// mapped before serve starts and read, is still mapped a second (ten release_every ticks)
// after the process has faulted in enough pages for a release.
func TestServeReleaseEveryNotWithKeep(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("procmem releases pages on Linux only")
	}
	page := os.Getpagesize()
	m := mapFakeLibrary(t, "libkeeptest.so.1")
	stop := serveUp(t, "memory: {binary_pages: keep, release_every: 100ms}\n")
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	var sum int
	for i := 0; i < len(m); i += page {
		sum += int(m[i])
	}
	if n := presentPages(t, m); sum != 7*64 || n != 64 {
		t.Fatalf("read %d; %d of the file's 64 pages mapped after reading them", sum, n)
	}
	faultInForARelease(t)
	time.Sleep(time.Second)
	if n := presentPages(t, m); n != 64 {
		t.Fatalf("%d of the file's 64 pages mapped a second later under binary_pages keep: released", n)
	}
}
