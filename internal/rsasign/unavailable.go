//go:build !(cgo && linux)

package rsasign

import (
	"crypto/rsa"
	"fmt"
)

// CanOpen says whether this build can open libcrypto at all: this one cannot.
const CanOpen = false

// Library is an opened libcrypto; this build cannot open one.
type Library struct{}

// Open answers ErrUnavailable: only a cgo build on Linux opens libcrypto.
func Open() (*Library, error) {
	return nil, fmt.Errorf("%w: this build has no cgo (CGO_ENABLED=0) or is not for Linux", ErrUnavailable)
}

// Version is empty.
func (l *Library) Version() string { return "" }

// Key is a private key loaded into libcrypto.
type Key struct{}

// Load is never reached: Open fails.
func (l *Library) Load(*rsa.PrivateKey) (*Key, error) { return nil, ErrUnavailable }

// Sign is never reached: Load fails.
func (k *Key) Sign([]byte) ([]byte, error) { return nil, ErrUnavailable }
