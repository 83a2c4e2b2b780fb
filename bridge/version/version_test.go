package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		name          string
		bi            *debug.BuildInfo
		ok            bool
		ldV, ldC, ldD string
		want          Info
	}{
		{"vcs stamped", bi, true, "", "", "", Info{Version: "v1.2.3", Commit: "abc123-dirty", Date: "2026-01-02T03:04:05Z", GoVersion: "go1.99"}},
		{"ldflags win", bi, true, "v9", "def", "2027-01-01", Info{Version: "v9", Commit: "def", Date: "2027-01-01", GoVersion: "go1.99"}},
		{"no build info", nil, false, "", "", "", Info{Version: "(devel)", Commit: "unknown", Date: "unknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			version, commit, date = tc.ldV, tc.ldC, tc.ldD
			t.Cleanup(func() { version, commit, date = "", "", "" })
			got := from(tc.bi, tc.ok)
			if tc.want.GoVersion == "" {
				tc.want.GoVersion = got.GoVersion
			}
			tc.want.Platform = got.Platform
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if s := got.String(); !strings.Contains(s, got.Version) || !strings.Contains(s, got.Commit) {
				t.Fatalf("String %q", s)
			}
		})
	}
}
