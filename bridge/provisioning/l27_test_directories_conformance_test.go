package provisioning_test

import (
	"testing"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/legacy/directorytest"
)

// TestTestDirectoriesConformance (session 27, brief L item 3): the fault-injecting directories
// of this package's tests (listing; session 26's flicker, badRow, spoilOnce and scanPassed) pass the directory
// conformance suite when they inject nothing, as the guide asks of every fake, so that a
// provisioning test cannot pass on behaviour the real directories lack.
func TestTestDirectoriesConformance(t *testing.T) {
	tests := []struct {
		name string
		wrap func(d *bridgetest.Directory) legacy.Directory
	}{
		{"listing", func(d *bridgetest.Directory) legacy.Directory { return &listing{Directory: d} }},
		{"flicker", func(d *bridgetest.Directory) legacy.Directory {
			return &flicker{listing: &listing{Directory: d}}
		}},
		{"flicker behind the cache", func(d *bridgetest.Directory) legacy.Directory {
			return cache.New(&flicker{listing: &listing{Directory: d}}, cache.Options{})
		}},
		{"badRow", func(d *bridgetest.Directory) legacy.Directory {
			return &badRow{flicker: &flicker{listing: &listing{Directory: d}}}
		}},
		{"spoilOnce", func(d *bridgetest.Directory) legacy.Directory {
			return &spoilOnce{listing: &listing{Directory: d}, key: aliceKey}
		}},
		{"scanPassed", func(d *bridgetest.Directory) legacy.Directory { return &scanPassed{Directory: d} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			directorytest.Run(t, func(t *testing.T) *directorytest.Target {
				d := bridgetest.NewDirectory()
				return bridgetest.ConformanceTarget(d, tt.wrap(d))
			})
		})
	}
}
