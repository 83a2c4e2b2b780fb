package sso

import "time"

// SetKeyClock replaces the key manager's clock in tests.
func SetKeyClock(m *KeyManager, now func() time.Time) { m.now = now }
