package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Load reads a YAML file over the defaults, expanding ${ENV_VAR} references outside comment
// lines (an unset variable is an error naming it). An empty path gives the defaults. Unknown keys are errors.
func Load(path string) (Config, error) {
	cfg := Defaults()
	if path == "" {
		return cfg, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	var missing []string
	expand := func(m string) string {
		name := envRef.FindStringSubmatch(m)[1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	}
	// Comment lines are left alone: a commented-out value (or the generated example's
	// explanations) may name a variable that is not set.
	lines := strings.SplitAfter(string(raw), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(strings.TrimLeft(l, " \t"), "#") {
			lines[i] = envRef.ReplaceAllStringFunc(l, expand)
		}
	}
	expanded := strings.Join(lines, "")
	if len(missing) > 0 {
		return cfg, fmt.Errorf("config %s: environment variable(s) not set: %s", path, strings.Join(missing, ", "))
	}
	dec := yaml.NewDecoder(strings.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}
