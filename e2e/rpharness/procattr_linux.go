package rpharness

import "syscall"

// procAttr puts an RP server in its own process group (stopped as a group by the test's
// cleanup) and has the kernel send it SIGTERM if the test binary dies first (a go test timeout
// skips cleanups), so that no RP server outlives its test holding a port.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
