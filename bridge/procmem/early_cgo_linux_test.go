//go:build cgo

package procmem

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// earlyChild, set in a child's environment, makes the test binary print what the drop before
// package initialisation did (EarlyDrop) and the threads the process had at the drop
// (earlyThreads), and exit, instead of running the tests.
const earlyChild = "PROCMEM_EARLY_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(earlyChild) != "" {
		e, err := EarlyDrop()
		fmt.Printf("%s %v threads=%d\n", e, err, earlyThreads())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runEarlyChild runs bin (a copy of this test binary) with args and SSOBRIDGE_BINARY_PAGES=pages,
// and returns what its drop before initialisation did ("dropped <nil>") and its threads then.
func runEarlyChild(t *testing.T, bin, pages string, args ...string) (outcome string, threads int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), earlyChild+"=1", EnvBinaryPages+"="+pages)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v (%s)", err, out)
	}
	line := strings.TrimSpace(string(out))
	i := strings.LastIndex(line, " threads=")
	if i < 0 {
		t.Fatalf("child printed %q", line)
	}
	if _, err := fmt.Sscanf(line[i:], " threads=%d", &threads); err != nil {
		t.Fatalf("child printed %q: %v", line, err)
	}
	return line[:i], threads
}

// TestEarlyDropBeforeInitialisation runs a copy of this test binary, just written (so its pages
// are in the page cache, dirty) with 16 MiB of padding after the ELF content that no loader
// maps and no read-ahead of the program's own faults reaches in its second half. A serve
// command line drops the file's pages at the dynamic loader's start: the padding leaves the
// page cache, and the process had one thread then (review s27 R4-5: the Go runtime starts
// threads before any package's initialisation, so a drop moved into a Go init() fails here).
// SSOBRIDGE_BINARY_PAGES=keep or unmap, or another command, leave it cached; so does a file
// whose modification time is not within 10 minutes of now (review s27 R4-4: an installed,
// packaged or image binary, as `touch -d` or a package's preserved build time leaves it).
func TestEarlyDropBeforeInitialisation(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(t.TempDir(), &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type == unix.TMPFS_MAGIC || fs.Type == unix.RAMFS_MAGIC {
		t.Skip("the temporary directory is on tmpfs: its pages cannot leave the page cache")
	}
	const pad = 16 << 20
	page := int64(os.Getpagesize())
	for _, tc := range []struct {
		name, env string
		// modified is the copy's modification time from now (0: as written).
		modified time.Duration
		args     []string
		want     string
	}{
		{"serve", "", 0, []string{"serve"}, "dropped"},
		{"serve after root flags", "", 0, []string{"--config", "c.yaml", "--listen=127.0.0.1:0", "serve", "--issuer", "x"}, "dropped"},
		{"keep", "keep", 0, []string{"serve"}, "skipped"},
		{"unmap", "unmap", 0, []string{"serve"}, "skipped"},
		{"evict", "evict", 0, []string{"serve"}, "dropped"},
		{"another command", "", 0, []string{"keys", "list"}, "not serve"},
		{"serve as a flag's value", "", 0, []string{"--config", "serve", "version"}, "not serve"},
		{"written 9 minutes ago", "", -9 * time.Minute, []string{"serve"}, "dropped"},
		{"installed: written 11 minutes ago", "", -11 * time.Minute, []string{"serve"}, "left: not recently written"},
		{"packaged: written a year ago", "", -365 * 24 * time.Hour, []string{"serve"}, "left: not recently written"},
		{"written an hour ahead of this clock", "", time.Hour, []string{"serve"}, "left: not recently written"},
		{"installed, keep", "keep", -time.Hour, []string{"serve"}, "skipped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := copyPadded(t, exe, pad)
			if tc.modified != 0 {
				at := time.Now().Add(tc.modified)
				if err := os.Chtimes(bin, at, at); err != nil {
					t.Fatal(err)
				}
			}
			size := fileSize(t, bin)
			first, last := (size-pad/2)/page, size/page
			if c := cachedPages(t, bin, first, last); c != last-first {
				t.Fatalf("%d of the padding's last %d pages cached after writing it", c, last-first)
			}
			got, threads := runEarlyChild(t, bin, tc.env, tc.args...)
			if got != tc.want+" <nil>" {
				t.Fatalf("EarlyDrop in the child: %q, want %q", got, tc.want)
			}
			switch {
			case tc.want == "dropped" && threads != 1:
				t.Fatalf("dropped with %d threads in the process: not before the Go runtime started", threads)
			case tc.want != "dropped" && threads != 0:
				t.Fatalf("%s, and a drop was tried (threads=%d)", tc.want, threads)
			}
			c := cachedPages(t, bin, first, last)
			switch {
			case tc.want == "dropped" && c != 0:
				t.Fatalf("dropped, and %d of the padding's last %d pages still cached", c, last-first)
			case tc.want != "dropped" && c != last-first:
				t.Fatalf("%s, and only %d of the padding's last %d pages cached", tc.want, c, last-first)
			}
		})
	}
}

// TestIsServeCommandLine: how the drop reads the command line (cmd/ssobridge checks the same
// table against its cobra commands).
func TestIsServeCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"ssobridge", "serve"}, true},
		{[]string{"ssobridge", "serve", "--config", "x"}, true},
		{[]string{"ssobridge", "--config", "x.yaml", "serve"}, true},
		{[]string{"ssobridge", "--config=x.yaml", "--data-dir", "d", "serve"}, true},
		{[]string{"ssobridge", "--", "serve"}, false}, // cobra: "--" ends the command search
		{[]string{"ssobridge"}, false},
		{[]string{"ssobridge", "--config", "serve"}, false},
		{[]string{"ssobridge", "version", "serve"}, false},
		{[]string{"ssobridge", "servex"}, false},
		{[]string{"ssobridge", "--help"}, false},
		{nil, false},
	} {
		if got := IsServeCommandLine(tc.args); got != tc.want {
			t.Errorf("IsServeCommandLine(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

// copyPadded copies exe into a new executable file (in a test directory) with pad zero bytes
// after it.
func copyPadded(t *testing.T, exe string, pad int64) string {
	t.Helper()
	return copyPaddedTo(t, exe, t.TempDir(), pad)
}

// copyPaddedTo is copyPadded into dir.
func copyPaddedTo(t *testing.T, exe, dir string, pad int64) string {
	t.Helper()
	src, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := dir + "/child"
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, bytes.NewReader(make([]byte, pad))); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestEarlyDropOnTmpfs (review s27 R4-6): an executable on tmpfs, whose pages cannot leave the
// page cache, is reported as such, not as dropped.
func TestEarlyDropOnTmpfs(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const shm = "/dev/shm"
	var fs unix.Statfs_t
	if err := unix.Statfs(shm, &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		t.Skipf("%s is not tmpfs here (%v)", shm, err)
	}
	dir, err := os.MkdirTemp(shm, "procmem-early-")
	if err != nil {
		t.Skipf("cannot write to %s: %v", shm, err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := copyPaddedTo(t, exe, dir, 0)
	if err := exec.Command(bin, "-test.run=^$").Run(); err != nil {
		var pe *exec.ExitError
		if errors.As(err, &pe) || !errors.Is(err, syscall.EACCES) {
			t.Fatalf("child: %v", err)
		}
		t.Skipf("%s does not allow executing: %v", shm, err)
	}
	if got, _ := runEarlyChild(t, bin, "", "serve"); got != "in memory (tmpfs) <nil>" {
		t.Fatalf("EarlyDrop in the child on tmpfs: %q", got)
	}
}
