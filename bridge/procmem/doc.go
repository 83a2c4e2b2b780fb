// Package procmem trims what the running process keeps mapped. Start-up (package
// initialisation, configuration, migrations, CEL compilation, template parsing) touches most
// of the binary's code and read-only data once; the kernel maps those pages, and many around
// them, into the process and counts them in its resident set for as long as it runs. After
// start-up, ReleaseStartupPages unmaps them again, as the Linux kernel frees its own __init
// sections after boot. The shared libraries a cgo build maps (libc, and libcrypto once
// internal/rsasign has opened it and signed at start-up) are released the same way. Only
// read-only mappings of the executable and of those libraries that hold no private
// (anonymous) page are touched, so nothing written at run time, such as a relocated
// read-only-after-relocation segment of a position-independent build, is ever discarded.
//
// Unmapping alone does not hold: the pages stay in the page cache, and each later fault maps
// the faulting page's cached neighbours with it (fault-around: 64 KiB, and on recent kernels
// the whole large folio, up to 2 MiB, that the binary was read into), so the garbage
// collector's reads of pclntab and the hot paths' code bring most of it back. With evict,
// ReleaseStartupPages also marks the mappings MADV_RANDOM (a page-cache miss reads that one
// page, no read-around) and drops the executable's pages that no process maps from the page
// cache (POSIX_FADV_DONTNEED, after writing back any dirty ones): from then on the process maps
// what it uses, 4 KiB at a time. Measured on the load runs (scripts/loadtest/README.md): the
// binary's resident pages at the peak went from 23-25 MB to 15-16 MB.
//
// That holds for read-only data, not fully for code: recent kernels read ahead on a fault in an
// executable mapping whatever its MADV_RANDOM or POSIX_FADV_RANDOM (the device's
// read_ahead_kb from the faulting page), and fault-around then maps the cached neighbours.
// On this project's 6.18 test machines (read_ahead_kb 8192), 20 faults 1 MiB apart in a
// PROT_EXEC mapping read 6,144 pages (640 with read_ahead_kb 128, 20 without PROT_EXEC);
// with the page cache dropped at idle, 3 sign-ins and 50 refreshes grew the binary's page
// cache by 12.8 MB and its mapped pages by 3.9 MB; and the load runs' peak RSS was 1.1 MB
// lower with read_ahead_kb 128 (39.1-39.6 MB against 40.3-40.7, A/B). The release still
// drops what start-up used and the requests do not; what the requests use comes back with up
// to 64 KiB around it.
//
// Package initialisation itself can map most of the binary: when the file sits in the page
// cache as the Go linker wrote it (through a shared mapping, in large folios: `go build`, `go
// run`), initialisation alone mapped 42 MB of it and start-up peaked at 44-46 MB before the
// first release could run, against 31-33 MB for the same binary read back from disk. So a cgo
// build (every build that signs RS256 with libcrypto) drops the executable's page cache before
// any Go code runs: a C constructor, run by the dynamic loader, writes back dirty pages and
// calls posix_fadvise(POSIX_FADV_DONTNEED) on /proc/self/exe, for a serve command line only
// (IsServeCommandLine, checked against cobra's commands by cmd/ssobridge's tests), and only when
// the executable's modification time is within 10 minutes of now: the file the linker has
// just written. An installed, packaged or image binary (its build's time kept, or in place for
// longer) sits in the page cache as it was read from disk, where the drop gains nothing and
// costs every other process started from the file (replicas, a node's pods from one image) its
// cached pages; it is left alone (EarlyNotRecent), and memory.binary_pages decides. The drop
// runs before the configuration is read, so memory.binary_pages cannot turn it off: the
// environment can (EnvBinaryPages, SSOBRIDGE_BINARY_PAGES=keep or unmap). EarlyDrop says what
// it did; serve logs it. The constructor also records the process's thread count at the drop
// (1: before the Go runtime started), which the tests check. An executable on tmpfs or ramfs is
// left alone and reported as such (its pages cannot leave the page cache). A build without cgo
// has no such drop.
//
// The release after start-up holds only for what start-up alone used. Under load, each phase of
// work (a signing algorithm, sign-ins, a provisioning batch) maps its code, with up to 64 KiB
// around each page it touches, and all of it stays mapped after the work has moved on: in the
// load runs the 100-worker refresh phase began with the code of the phases before it still
// mapped, 17.6-19.8 MB of file pages where the phase itself keeps about 12.5. A Trimmer, which
// serve runs every memory.release_every (default 250ms), unmaps the same mappings again (those
// there at start-up, never a library loaded since: see Trimmer), without dropping anything
// from the page cache, whenever the process has faulted pages in since the last time
// (TrimMinFaults): the code in use comes back with minor faults, a few hundred per release
// under load, while an idle process is released only when its background work has faulted
// pages in (about every 20 s).
//
// What evict costs, and where it does nothing:
//   - every page used after the release is read again from the file: about 2,000 reads of
//     4 KiB (major faults) over the first seconds of load, each a disk read when the file is
//     not cached below the page cache (a virtual disk usually is);
//   - pages another process maps (a second replica started from the same file, a CLI command
//     running meanwhile) stay cached; the unmapped ones are dropped for that process too, which
//     reads them back on its next faults;
//   - on tmpfs (and ramfs) pages cannot leave the page cache: only the unmapping happens;
//   - the pages touched between the unmapping and the drop (the code making the calls, in
//     whole large folios) stay cached.
package procmem
