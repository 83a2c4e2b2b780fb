package samlsp

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestFindFaketime: libfaketime is found where the package of this machine's architecture put
// it (dpkg), not at the amd64 path only, and SSOBRIDGE_LIBFAKETIME names another place.
func TestFindFaketime(t *testing.T) {
	if exec.Command("dpkg", "-s", "libfaketime").Run() == nil {
		p := findFaketime()
		if filepath.Base(p) != faketimeLib || !fileExists(p) {
			t.Fatalf("findFaketime() = %q with libfaketime installed", p)
		}
	}
	other := filepath.Join(t.TempDir(), faketimeLib)
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSOBRIDGE_LIBFAKETIME", other)
	if p := findFaketime(); p != other {
		t.Fatalf("findFaketime() = %q, want SSOBRIDGE_LIBFAKETIME's %q", p, other)
	}
}
