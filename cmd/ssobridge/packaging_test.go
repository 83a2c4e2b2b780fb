package main

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/version"
)

// repoFile reads a file at the repository root.
func repoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dockerfileLines joins the Dockerfile's continuation lines and drops comments.
func dockerfileLines(src string) []string {
	var out []string
	cur := ""
	for _, l := range strings.Split(src, "\n") {
		t := strings.TrimSpace(l)
		if cur == "" && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if strings.HasSuffix(t, `\`) {
			cur += strings.TrimSuffix(t, `\`) + " "
			continue
		}
		out = append(out, cur+t)
		cur = ""
	}
	return out
}

// TestDockerfile reads the Dockerfile as a reviewer would (there is no container engine
// here): a build stage, then a distroless static (or scratch) stage running as a non-root
// user with /data as a volume and the binary as entry point.
func TestDockerfile(t *testing.T) {
	lines := dockerfileLines(repoFile(t, "Dockerfile"))
	var stages []string
	var final []string
	for _, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			stages = append(stages, l)
			final = nil
		}
		final = append(final, l)
	}
	if len(stages) != 2 {
		t.Fatalf("want a build and a run stage, got %q", stages)
	}
	if from := stages[1]; !strings.Contains(from, "distroless/static") && from != "FROM scratch" {
		t.Errorf("run stage %q: want distroless static or scratch", from)
	}
	if from := stages[1]; strings.Contains(from, "distroless") && !strings.HasSuffix(from, ":nonroot") {
		t.Errorf("run stage %q: want the nonroot tag", from)
	}
	has := func(prefix string) string {
		for _, l := range final {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		return ""
	}
	if u := has("USER "); u == "" || strings.Contains(u, "root") && !strings.Contains(u, "nonroot") || strings.HasPrefix(u, "USER 0") {
		t.Errorf("run stage user %q: want a non-root uid", u)
	}
	if v := has("VOLUME "); !strings.Contains(v, "/data") {
		t.Errorf("no /data volume: %q", v)
	}
	if ep := has("ENTRYPOINT "); !strings.Contains(ep, `"/usr/local/bin/ssobridge"`) {
		t.Errorf("entry point %q", ep)
	}
	if cmd := has("CMD "); !strings.Contains(cmd, `"--data-dir", "/data"`) {
		t.Errorf("CMD %q does not use /data", cmd)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "ADD ") {
			t.Errorf("ADD (use COPY): %q", l)
		}
	}
}

// TestDockerfileBuild runs the Dockerfile's build command (its go build RUN line, with the
// build arguments filled in and /out/ replaced by a temporary directory) and checks that the
// binary is static (no interpreter, no shared libraries: it runs on distroless static and
// scratch) and that `version --json` reports the version and commit it was given.
func TestDockerfileBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	var run string
	for _, l := range dockerfileLines(repoFile(t, "Dockerfile")) {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, " go build ") {
			run = strings.TrimPrefix(l, "RUN ")
		}
	}
	if run == "" {
		t.Fatal("no go build RUN line")
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "version.version=${VERSION}", "version.commit=${COMMIT}", "version.date=${DATE}"} {
		if !strings.Contains(run, want) {
			t.Errorf("build command lacks %s: %s", want, run)
		}
	}
	out := t.TempDir()
	cmdline := strings.NewReplacer("${VERSION}", "v9.8.7-test", "${COMMIT}", "0123abcd", "${DATE}", "2026-01-02T03:04:05Z",
		"/out/", out+"/").Replace(run)
	if regexp.MustCompile(`\$\{?[A-Z]`).MatchString(cmdline) {
		t.Fatalf("unfilled build argument in %s", cmdline)
	}
	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Dir = filepath.Join("..", "..")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	bin := filepath.Join(out, "ssobridge")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	b, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var v version.Info
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.Version != "v9.8.7-test" || v.Commit != "0123abcd" || v.Date != "2026-01-02T03:04:05Z" {
		t.Fatalf("version %+v", v)
	}
}

// TestSystemdUnitHardening checks the unit's hardening settings (systemd-analyze security
// rates the unit 1.4 "OK" offline).
func TestSystemdUnitHardening(t *testing.T) {
	unit := repoFile(t, "packaging/ssobridge.service")
	for _, want := range []string{
		"DynamicUser=yes", "StateDirectory=ssobridge", "StateDirectoryMode=0700", "NoNewPrivileges=yes",
		"CapabilityBoundingSet=\n", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "MemoryDenyWriteExecute=yes", "SystemCallFilter=@system-service",
		"UMask=0077", "--data-dir ${STATE_DIRECTORY}", "ExecStart=/usr/local/bin/ssobridge serve",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
}

// TestConfigExampleCommand: `ssobridge config example` prints config.Example.
func TestConfigExampleCommand(t *testing.T) {
	var out strings.Builder
	root := rootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"config", "example"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if out.String() != string(config.Example()) || !strings.Contains(out.String(), "ready_checks:") {
		t.Fatalf("output %.200q", out.String())
	}
}
