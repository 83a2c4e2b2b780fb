//go:build !linux

package rpharness

import "syscall"

// procAttr puts an RP server in its own process group, stopped as a group by the test's cleanup.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
