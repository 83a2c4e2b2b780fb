package bridge_test

import (
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge"
)

func TestAdminAndDeviceConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		mutate     func(c *bridge.Config)
	}{
		{"short token", "admin.token", func(c *bridge.Config) { c.Admin.Token = "short" }},
		{"same listener", "admin.listen", func(c *bridge.Config) { c.Admin.Token = adminToken; c.Admin.Listen = c.Listen }},
		{"bad listener", "admin.listen", func(c *bridge.Config) { c.Admin.Token = adminToken; c.Admin.Listen = "8081" }},
		{"device interval", "tokens.device", func(c *bridge.Config) { c.Tokens.DeviceInterval = 0 }},
		{"device lifetime", "tokens.device", func(c *bridge.Config) { c.Tokens.DeviceCode = 2 * 3600e9 }},
	} {
		c := bridge.Defaults()
		tc.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	c := bridge.Defaults()
	if err := c.Validate(); err != nil || c.Admin.Enabled() {
		t.Fatalf("defaults: %v, admin enabled %v", err, c.Admin.Enabled())
	}
}
