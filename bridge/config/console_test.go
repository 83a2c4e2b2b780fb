package config

import (
	"strings"
	"testing"
	"time"
)

// TestConsoleConfig: each problem of admin.console names its field; a valid console passes.
func TestConsoleConfig(t *testing.T) {
	const tok = "0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name   string
		admin  AdminConfig
		field  string // "" valid
		url    string // ConsoleURL when valid
		enable bool
	}{
		{"off", AdminConfig{Listen: "127.0.0.1:8081", Token: tok}, "", "http://127.0.0.1:8081", false},
		{"default url", AdminConfig{Listen: "127.0.0.1:8081", Token: tok, Console: ConsoleConfig{Roles: []string{"SysAdmin"}}}, "", "http://127.0.0.1:8081", true},
		{"https url", AdminConfig{Listen: "0.0.0.0:8081", Token: tok, Console: ConsoleConfig{Roles: []string{"SysAdmin"}, URL: "https://admin.example.org:8081/"}}, "", "https://admin.example.org:8081", true},
		{"no token", AdminConfig{Listen: "127.0.0.1:8081", Console: ConsoleConfig{Roles: []string{"SysAdmin"}}}, "admin.console.roles:", "", false},
		{"url without roles", AdminConfig{Listen: "127.0.0.1:8081", Token: tok, Console: ConsoleConfig{URL: "https://admin.example.org"}}, "admin.console.roles:", "", false},
		{"empty role", AdminConfig{Listen: "127.0.0.1:8081", Token: tok, Console: ConsoleConfig{Roles: []string{" "}}}, "admin.console.roles:", "", false},
		{"http not loopback", AdminConfig{Listen: "127.0.0.1:8081", Token: tok, Console: ConsoleConfig{Roles: []string{"SysAdmin"}, URL: "http://admin.example.org"}}, "admin.console.url:", "", false},
		{"unspecified listen", AdminConfig{Listen: "0.0.0.0:8081", Token: tok, Console: ConsoleConfig{Roles: []string{"SysAdmin"}}}, "admin.console.url:", "", false},
		{"path", AdminConfig{Listen: "127.0.0.1:8081", Token: tok, Console: ConsoleConfig{Roles: []string{"SysAdmin"}, URL: "https://admin.example.org/console"}}, "admin.console.url:", "", false},
		{"second factor setting without the console", AdminConfig{Listen: "127.0.0.1:8081", Token: tok, Console: ConsoleConfig{RequireSecondFactor: new(bool)}}, "admin.console.require_second_factor:", "", false},
		{"idle too short", AdminConfig{Listen: "127.0.0.1:8081", Token: tok, Console: ConsoleConfig{Roles: []string{"SysAdmin"}, IdleTimeout: time.Second}}, "admin.console.idle_timeout:", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			c.Admin = tc.admin
			err := c.Validate()
			if tc.field == "" {
				if err != nil || c.Admin.ConsoleURL() != tc.url || c.Admin.ConsoleEnabled() != tc.enable || c.Admin.ConsoleIdleTimeout() != 15*time.Minute {
					t.Fatalf("err %v, url %q, enabled %v", err, c.Admin.ConsoleURL(), c.Admin.ConsoleEnabled())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("want an error naming %q, got %v", tc.field, err)
			}
		})
	}
}
