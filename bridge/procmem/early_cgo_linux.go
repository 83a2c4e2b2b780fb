//go:build cgo

package procmem

/*
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

// What ssob_drop_page_cache did: 0 nothing (not a serve run), 1 dropped, 2 skipped
// (SSOBRIDGE_BINARY_PAGES), 3 nothing to drop (the executable is on tmpfs or ramfs, whose pages
// cannot leave the page cache), 4 left (the executable was not written recently: an installed,
// packaged or image binary), or minus the errno of the step that failed.
static int ssob_early_state;

// The witness that the drop ran before any Go code (review s27 R4-5): the Threads: count of
// /proc/self/status read at the drop (1: the Go runtime, which starts threads before any
// package's initialisation, has not run yet), or -1 when it could not be read; 0 when no drop
// was tried.
static int ssob_early_threads;

// SSOB_RECENT is how close to now the executable's modification time must be for the drop:
// the file the Go linker has just written (`go build && ./ssobridge serve`, `go run`), whose
// pages sit in the page cache as the linker wrote them (review s27 R4-4).
#define SSOB_RECENT 600

// ssob_threads is the Threads: count of /proc/self/status, -1 when it cannot be read.
static int ssob_threads(void) {
	char st[4096];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -1;
	}
	ssize_t n = read(fd, st, sizeof st - 1);
	close(fd);
	if (n <= 0) {
		return -1;
	}
	st[n] = 0;
	const char *t = strstr(st, "\nThreads:");
	if (t == NULL) {
		return -1;
	}
	return (int)strtol(t + 9, NULL, 10);
}

// ssob_is_serve says whether the NUL-separated arguments in args (argv[0] first, n bytes, as
// /proc/self/cmdline gives them; args[n] readable and NUL) run the serve command, read as
// cobra's command search (stripFlags) reads them: "--" ends the search, empty arguments are
// skipped, and a "--name" or "-x" without "=" takes the next argument as its value, since no
// root flag is valueless (a bool); its first remaining argument must be "serve".
static int ssob_is_serve(const char *args, size_t n) {
	size_t i = strnlen(args, n) + 1; // argv[0]
	int skip = 0;
	while (i < n) {
		const char *a = args + i;
		size_t len = strnlen(a, n - i);
		i += len + 1;
		if (skip) {
			skip = 0;
			continue;
		}
		if (len == 0) {
			continue;
		}
		if (strcmp(a, "--") == 0) {
			return 0;
		}
		if (a[0] == '-') {
			skip = strchr(a, '=') == NULL && (a[1] == '-' || len == 2);
			continue;
		}
		return strcmp(a, "serve") == 0;
	}
	return 0;
}

// ssob_drop_page_cache runs when the dynamic loader starts the program, before the Go runtime
// and any package's initialisation: for a serve run of an executable written within the last
// SSOB_RECENT seconds (a binary linked moments ago), it drops the executable's pages from the
// page cache (after writing back dirty ones), unless the environment says
// SSOBRIDGE_BINARY_PAGES=keep or unmap. See early.go.
__attribute__((constructor)) static void ssob_drop_page_cache(void) {
	char args[4096];
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ssob_early_state = -errno;
		return;
	}
	ssize_t n = read(fd, args, sizeof args - 1);
	int readErr = errno;
	close(fd);
	if (n < 0) {
		ssob_early_state = -readErr;
		return;
	}
	args[n] = 0;
	if (!ssob_is_serve(args, (size_t)n)) {
		return;
	}
	const char *env = getenv("SSOBRIDGE_BINARY_PAGES");
	if (env != NULL && (strcmp(env, "keep") == 0 || strcmp(env, "unmap") == 0)) {
		ssob_early_state = 2;
		return;
	}
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ssob_early_state = -errno;
		return;
	}
	struct statfs sfs;
	if (fstatfs(fd, &sfs) == 0 && ((unsigned long)sfs.f_type == 0x01021994UL || (unsigned int)sfs.f_type == 0x858458f6U)) {
		close(fd); // TMPFS_MAGIC, RAMFS_MAGIC (review s27 R4-6)
		ssob_early_state = 3;
		return;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		ssob_early_state = -errno;
		close(fd);
		return;
	}
	time_t now = time(NULL), age = now - sb.st_mtime;
	if (age > SSOB_RECENT || age < -SSOB_RECENT) {
		// Installed, packaged or in an image (its build's time kept, or long in place): read
		// back from disk, not as the linker wrote it, and shared by every process started from
		// it; memory.binary_pages decides (review s27 R4-4).
		close(fd);
		ssob_early_state = 4;
		return;
	}
	(void)fdatasync(fd);
	int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	ssob_early_threads = ssob_threads();
	close(fd);
	ssob_early_state = rc != 0 ? -rc : 1;
}

static int ssob_early_result(void) { return ssob_early_state; }

static int ssob_early_threads_go(void) { return ssob_early_threads; }

static int ssob_is_serve_go(const char *args, size_t n) { return ssob_is_serve(args, n); }
*/
import "C"

import (
	"fmt"
	"strings"
	"syscall"
	"unsafe"
)

// EarlyDrop says what the drop before package initialisation did in this process.
func EarlyDrop() (Early, error) {
	switch r := int(C.ssob_early_result()); r {
	case 0:
		return EarlyNotServe, nil
	case 1:
		return EarlyDropped, nil
	case 2:
		return EarlySkipped, nil
	case 3:
		return EarlyInMemory, nil
	case 4:
		return EarlyNotRecent, nil
	default:
		return EarlyFailed, fmt.Errorf("procmem: page cache drop before initialisation: %w", syscall.Errno(-r))
	}
}

// earlyThreads is the threads the process had when the drop before package initialisation ran
// (/proc/self/status, read right after the fadvise): 1 before the Go runtime starts; -1 when it
// could not be read, 0 when no drop was tried. The tests check it (review s27 R4-5).
func earlyThreads() int { return int(C.ssob_early_threads_go()) }

// IsServeCommandLine says whether the command line args (os.Args, the program first) runs serve,
// as the drop before package initialisation reads it (cmd/ssobridge checks it against its commands).
func IsServeCommandLine(args []string) bool {
	if len(args) == 0 {
		return false
	}
	b := []byte(strings.Join(args, "\x00") + "\x00")
	return C.ssob_is_serve_go((*C.char)(unsafe.Pointer(&b[0])), C.size_t(len(b))) != 0
}
