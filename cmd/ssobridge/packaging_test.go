package main

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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
// here): a build stage, then a distroless base stage (glibc and libssl3, for the cgo build's
// libc and the libcrypto it opens: internal/rsasign) running as a non-root
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
	if from := stages[1]; !strings.Contains(from, "distroless/base-debian") {
		t.Errorf("run stage %q: want distroless base (glibc and libssl3)", from)
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
// binary needs only libc (it runs on distroless base, and opens libcrypto there at run time)
// and that `version --json` reports the version and commit it was given.
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
	for _, want := range []string{"CGO_ENABLED=1", "-trimpath", "version.version=${VERSION}", "version.commit=${COMMIT}", "version.date=${DATE}"} {
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
	// Only libc, which distroless base has; libcrypto is opened at run time (internal/rsasign),
	// so an image without it still runs (and signs with crypto/rsa).
	if libs, _ := f.ImportedLibraries(); !slices.Equal(libs, []string{"libc.so.6"}) {
		t.Errorf("the binary needs shared libraries %v, want only libc.so.6", libs)
	}
	if syms, _ := f.DynamicSymbols(); slices.ContainsFunc(syms, func(s elf.Symbol) bool { return strings.HasPrefix(s.Name, "EVP_") }) {
		t.Error("the binary links libcrypto's symbols: it must open libcrypto at run time")
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
