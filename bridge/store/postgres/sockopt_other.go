//go:build !linux

package postgres

import (
	"syscall"
	"time"
)

// setUserTimeout does nothing where TCP_USER_TIMEOUT is not available: TCP keepalive alone
// ends idle connections to a vanished peer.
func setUserTimeout(syscall.RawConn, time.Duration) error { return nil }
