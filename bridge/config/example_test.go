package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/config/internal/schemadoc"
)

// TestExampleDocsUpToDate: example_docs.go is what go generate makes from the source now.
func TestExampleDocsUpToDate(t *testing.T) {
	want, err := schemadoc.Generate(config.SchemaStructs(), filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("example_docs.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bridge/config/example_docs.go is stale: a configuration field or its comment changed; run `go generate ./bridge/config`")
	}
}

// TestExampleLoadsAsTheDefaults: the example, as printed, loads (strictly: unknown keys are
// errors) to exactly the embedded defaults, and validates.
func TestExampleLoadsAsTheDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, config.Example(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the example does not validate: %v", err)
	}
	// Compared as YAML: an empty list in the file and a nil one in the defaults are the same.
	got, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := yaml.Marshal(config.Defaults())
	if !bytes.Equal(got, want) {
		t.Fatalf("the example is not the defaults:\n got %s\nwant %s", got, want)
	}
}

// uncommented is the example with every commented-out section uncommented.
func uncommented() []byte {
	var b bytes.Buffer
	for _, l := range strings.Split(string(config.Example()), "\n") {
		b.WriteString(strings.TrimPrefix(l, "#| "))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// TestExampleSectionsDecode: with the commented-out sections uncommented, the file decodes
// strictly into Config: every key it shows is a real key at its place.
func TestExampleSectionsDecode(t *testing.T) {
	var cfg config.Config
	dec := yaml.NewDecoder(bytes.NewReader(uncommented()))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("uncommented example: %v", err)
	}
	if cfg.Legacy.Type != "imis" || len(cfg.Clients) != 1 || len(cfg.Provisioning) != 1 || len(cfg.Policy.Policies) != 1 {
		t.Fatalf("sections missing: legacy %q, %d clients, %d targets, %d policies", cfg.Legacy.Type, len(cfg.Clients),
			len(cfg.Provisioning), len(cfg.Policy.Policies))
	}
}

// TestExampleHasEveryField: every YAML key of every struct of the schema (each legacy.type's
// and each provisioning kind's included) is in the example, and every documented field's
// comment is.
func TestExampleHasEveryField(t *testing.T) {
	ex := string(uncommented())
	lines := strings.Split(ex, "\n")
	hasKey := func(k string) bool {
		for _, l := range lines {
			l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "- "))
			if strings.HasPrefix(l, k+":") {
				return true
			}
		}
		return false
	}
	n := 0
	for _, st := range config.SchemaStructs() {
		for i := range st.NumField() {
			f := st.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" || strings.Contains(opts, "inline") || f.Type.Kind() == reflect.Interface {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
				switch f.Name { // provisioning.Target decodes these by hand
				case "RequireCurrent":
					name = "require_current"
				case "AllowInternal":
					name = "allow_internal"
				}
			}
			n++
			if !hasKey(name) {
				t.Errorf("%s.%s: no %q key in the example", st, f.Name, name)
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d fields found: the schema walk is broken", n)
	}
	for _, doc := range []string{"RefreshReuseGrace (opt-in, at most 60s)", "ReadyChecks are the checks that gate readiness"} {
		if !strings.Contains(ex, doc) {
			t.Errorf("the example lacks the comment %q", doc)
		}
	}
}

// TestLoadSkipsCommentLines: ${VAR} in a comment line is not expanded (a commented-out value
// may name a variable that is not set); in a value it is, and an unset one is an error.
func TestLoadSkipsCommentLines(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, wantErr, wantToken string
	}{
		{"comment", "admin:\n  # token: ${SSOBRIDGE_TEST_UNSET_VAR}\n  listen: 127.0.0.1:9\n", "", ""},
		{"indented comment", "  #  ${SSOBRIDGE_TEST_UNSET_VAR}\n", "", ""},
		{"value", "admin:\n  token: ${SSOBRIDGE_TEST_UNSET_VAR}\n", "SSOBRIDGE_TEST_UNSET_VAR", ""},
		{"set value", "admin:\n  token: ${SSOBRIDGE_TEST_SET_VAR} # ${SSOBRIDGE_TEST_SET_VAR}\n", "", "from-env"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SSOBRIDGE_TEST_SET_VAR", "from-env")
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || cfg.Admin.Token != tc.wantToken {
				t.Fatalf("err %v, token %q", err, cfg.Admin.Token)
			}
		})
	}
}
