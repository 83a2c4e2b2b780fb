package memstore_test

import (
	"testing"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
	"github.com/ssobridge/ssobridge/sso/storetest"
)

// TestConformance runs sso's store conformance suite, the one the SQLite store passes.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) sso.Store { return memstore.New() })
}
