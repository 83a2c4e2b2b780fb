package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestStepUpMaxAge (brief s21 H item 3): mfa.step_up_max_age defaults to 10 minutes, takes a
// value between 1m and 24h, and refuses others at start-up.
func TestStepUpMaxAge(t *testing.T) {
	d := Defaults()
	if got := d.MFA.StepUpAge(); got != 10*time.Minute {
		t.Fatalf("default step-up max age %s, want 10m", got)
	}
	for _, tc := range []struct {
		age time.Duration
		ok  bool
	}{
		{0, true}, {time.Minute, true}, {5 * time.Minute, true}, {24 * time.Hour, true},
		{-time.Minute, false}, {30 * time.Second, false}, {25 * time.Hour, false},
	} {
		c := Defaults()
		c.MFA.StepUpMaxAge = tc.age
		err := c.Validate()
		if tc.ok != (err == nil) || !tc.ok && !strings.Contains(err.Error(), "mfa.step_up_max_age: must be between 1m and 24h") {
			t.Errorf("mfa.step_up_max_age %s: %v (want ok %t)", tc.age, err, tc.ok)
		}
		if tc.ok && tc.age != 0 && c.MFA.StepUpAge() != tc.age {
			t.Errorf("mfa.step_up_max_age %s read as %s", tc.age, c.MFA.StepUpAge())
		}
	}
	// As written in a configuration file.
	path := t.TempDir() + "/c.yaml"
	if err := os.WriteFile(path, []byte("mfa:\n  step_up_max_age: 5m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil || c.MFA.StepUpAge() != 5*time.Minute {
		t.Fatalf("load mfa.step_up_max_age: 5m: %s %v", c.MFA.StepUpAge(), err)
	}
}
