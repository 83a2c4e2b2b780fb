package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time with -ldflags -X (see the package comment); empty: from the build info.
var (
	version string
	commit  string
	date    string
)

// Info is the running build.
type Info struct {
	// Version is the module version (v1.2.3; "(devel)" for a build from a work tree).
	Version string `json:"version"`
	// Commit is the VCS revision ("unknown" when not recorded), with "-dirty" when the work
	// tree had changes.
	Commit string `json:"commit"`
	// Date is the build date, or the commit's time when the build date is not set.
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// Get returns the running build's information.
func Get() Info {
	return from(debug.ReadBuildInfo())
}

func from(bi *debug.BuildInfo, ok bool) Info {
	in := Info{Version: "(devel)", Commit: "unknown", Date: "unknown", GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if ok && bi != nil {
		if v := bi.Main.Version; v != "" {
			in.Version = v
		}
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				in.Commit = s.Value
			case "vcs.time":
				in.Date = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && in.Commit != "unknown" {
			in.Commit += "-dirty"
		}
		if bi.GoVersion != "" {
			in.GoVersion = bi.GoVersion
		}
	}
	if version != "" {
		in.Version = version
	}
	if commit != "" {
		in.Commit = commit
	}
	if date != "" {
		in.Date = date
	}
	return in
}

// String is the one-line form `ssobridge version` prints.
func (i Info) String() string {
	return fmt.Sprintf("ssobridge %s (commit %s, built %s, %s, %s)", i.Version, i.Commit, i.Date, i.GoVersion, i.Platform)
}
