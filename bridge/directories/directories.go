package directories

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// Config is the `legacy:` section of one connector type: each connector package exports one
// (with its defaults, and a Validate naming every bad field as legacy.<field>).
type Config interface {
	// Validate reports every problem at once, each naming its field.
	Validate() error
	// Open connects; the capabilities of the connector it returns are found by type assertion.
	Open(ctx context.Context, o legacy.OpenOptions) (legacy.Connector, error)
	// MemberRules are the settings the policy engine reads (extra columns, grace, standing rule).
	MemberRules() legacy.MemberRules
}

// Types is the registry of legacy.type values: one line per connector, each making that
// type's configuration with its defaults.
func Types() map[string]func() Config {
	return map[string]func() Config{
		"demo": func() Config { return &demo.Config{} },
		"imis": func() Config { return &imis.Config{} },
		"sql":  func() Config { return &sqldir.Generic{} },
	}
}

// Default types without legacy.type: imis with a dsn (configuration files from before
// legacy.type), demo without.
const (
	DefaultType    = "demo"
	DefaultDSNType = "imis"
)

// LegacyConfig is the `legacy:` section: its type and that type's configuration. The zero
// value is the embedded demo.
type LegacyConfig struct {
	Type   string
	Config Config
}

// UnmarshalYAML reads legacy.type, then the rest of the section into that type's configuration
// (unknown fields are errors).
func (l *LegacyConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("legacy: line %d: must be a mapping", n.Line)
	}
	rest := *n
	rest.Content = nil
	typ, dsn := "", false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "type":
			typ = v.Value
			continue
		case "dsn":
			dsn = v.Value != ""
		}
		rest.Content = append(rest.Content, k, v)
	}
	if typ == "" {
		typ = DefaultType
		if dsn {
			typ = DefaultDSNType
		}
	}
	mk, ok := Types()[typ]
	if !ok {
		return fmt.Errorf("legacy.type: unknown type %q (want %s)", typ, strings.Join(typeNames(), ", "))
	}
	raw, err := yaml.Marshal(&rest)
	if err != nil {
		return fmt.Errorf("legacy: %w", err)
	}
	cfg := mk()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		return fmt.Errorf("legacy (type %s): %w", typ, err)
	}
	l.Type, l.Config = typ, cfg
	return nil
}

func typeNames() []string {
	var names []string
	for n := range Types() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// WebsiteTaker is a Config that takes the AMS website of the top-level `ams:` section (the
// iMIS website's configuration; it was configured there before legacy.type existed).
type WebsiteTaker interface {
	SetWebsite(imis.WebsiteConfig)
}

// Resolve returns a copy of the section's configuration (the demo for the zero value), handed
// the website of the top-level `ams:` section if it takes one (WebsiteTaker).
func (l LegacyConfig) Resolve(website imis.WebsiteConfig) (Config, error) {
	d := l.Clone().Config
	if d == nil {
		d = Types()[DefaultType]()
	}
	if w, ok := d.(WebsiteTaker); ok {
		w.SetWebsite(website)
	} else if website.Enabled() {
		return nil, fmt.Errorf("ams.base_url: the top-level ams: section is the iMIS website; legacy.type %s takes none", l.Type)
	}
	return d, nil
}

// Clone returns the section with a shallow copy of its configuration (every registered
// Config is a pointer to a struct), for setting a capability's value (WebsiteTaker,
// legacy.MemberKeyChooser) without changing the section it came from.
func (l LegacyConfig) Clone() LegacyConfig {
	if l.Config == nil {
		return l
	}
	v := reflect.ValueOf(l.Config)
	c := reflect.New(v.Elem().Type())
	c.Elem().Set(v.Elem())
	l.Config = c.Interface().(Config)
	return l
}

// IsDemo reports whether members come from the embedded demo database.
func (l LegacyConfig) IsDemo() bool {
	_, ok := l.Config.(*demo.Config)
	return l.Config == nil || ok
}

// MemberRules are the resolved section's settings for the policy engine.
func (l LegacyConfig) MemberRules() legacy.MemberRules {
	d := l.Config
	if d == nil {
		d = Types()[DefaultType]()
	}
	return d.MemberRules()
}
