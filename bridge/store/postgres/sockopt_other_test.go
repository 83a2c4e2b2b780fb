//go:build !linux

package postgres

import (
	"errors"
	"syscall"
	"time"
)

// userTimeout: there is no TCP_USER_TIMEOUT to read back.
func userTimeout(syscall.RawConn) (time.Duration, error) {
	return 0, errors.ErrUnsupported
}
