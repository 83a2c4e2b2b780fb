package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Load reads a YAML file over the defaults, expanding ${ENV_VAR} references in its values (an
// unset variable is an error naming it; comments are left alone). An empty path gives the
// defaults. Unknown keys are errors.
//
// A reference stands for the variable's value exactly, whatever characters it holds (review
// s12 W3): the file is parsed first and the references are expanded in the parsed values, so
// that a secret holding " #", ": ", a leading "!" or "*", a backslash inside double quotes, a
// trailing space or a newline is neither cut short, nor read as YAML, nor able to add keys. A
// reference in an unquoted value is typed as the whole value would be (per_login: ${N} is a
// number); a quoted one is a string.
func Load(path string) (Config, error) {
	cfg := Defaults()
	if path == "" {
		return cfg, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if doc.Kind == 0 { // empty, or comments only
		return cfg, nil
	}
	var missing []string
	expandRefs(&doc, func(name string) string {
		v, ok := os.LookupEnv(name)
		if !ok && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return cfg, fmt.Errorf("config %s: environment variable(s) not set: %s", path, strings.Join(missing, ", "))
	}
	// The expanded document is written out again (quoting each value as it needs) and decoded
	// strictly; its errors name the lines of the file as written.
	expanded, err := yaml.Marshal(&doc)
	if err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("config %s: %s", path, fileLines(expanded, &doc, err))
	}
	return cfg, nil
}

// expandRefs replaces the ${VAR} references in every scalar of n (keys and values) with
// value(VAR). An unquoted, untagged scalar that held one loses its resolved tag, so that it is
// typed by its expanded value as if written so; a quoted one stays a string.
func expandRefs(n *yaml.Node, value func(name string) string) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		v := envRef.ReplaceAllStringFunc(n.Value, func(m string) string { return value(envRef.FindStringSubmatch(m)[1]) })
		if v != n.Value {
			n.Value = v
			if n.Style == 0 {
				n.Tag = ""
			}
		}
	}
	for _, c := range n.Content {
		expandRefs(c, value)
	}
}

var lineRef = regexp.MustCompile(`\bline (\d+)\b`)

// fileLines rewrites the line numbers in err, which are lines of expanded (the document
// written out again), to the lines of the same nodes in the file (doc, as parsed from it).
func fileLines(expanded []byte, doc *yaml.Node, err error) string {
	var again yaml.Node
	if yaml.Unmarshal(expanded, &again) != nil {
		return err.Error()
	}
	lines := map[string]string{}
	var pair func(a, b *yaml.Node)
	pair = func(a, b *yaml.Node) {
		if a.Kind != b.Kind || len(a.Content) != len(b.Content) {
			return
		}
		if _, seen := lines[strconv.Itoa(a.Line)]; !seen {
			lines[strconv.Itoa(a.Line)] = strconv.Itoa(b.Line)
		}
		for i := range a.Content {
			pair(a.Content[i], b.Content[i])
		}
	}
	pair(&again, doc)
	return lineRef.ReplaceAllStringFunc(err.Error(), func(m string) string {
		if l, ok := lines[lineRef.FindStringSubmatch(m)[1]]; ok {
			return "line " + l
		}
		return m
	})
}
