package provisioning

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/outbox/scim"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
)

// Kinds is the registry of provisioning target kinds, one line per kind: a new kind is a
// package with an outbox.Settings and a line here.
func Kinds() map[string]outbox.Kind {
	return map[string]outbox.Kind{
		scim.Kind:    scim.NewConfig,
		webhook.Kind: webhook.NewConfig,
	}
}

// Target is where one client's shadow users are provisioned. In YAML:
//
//	<client id>:
//	  type: scim        # the kind; optional when the target has one kind's section
//	  sync: true
//	  require_current: true
//	  allow_internal: false
//	  scim: {...}       # the kind's section, checked by the kind
type Target struct {
	// Type names the kind (Settings.Kind()); optional when Settings is set.
	Type string
	// Sync provisions before the authorization code is issued; a failure stops the sign-in.
	Sync bool
	// RequireCurrent deactivates members whose membership lapsed (not paid through today).
	RequireCurrent bool
	// AllowInternal lets the bridge deliver to the target on an internal address (loopback,
	// private, link-local, unique-local...); off, a URL whose host is or resolves to one is
	// refused when the bridge connects (bridge/outbound).
	AllowInternal bool
	// Settings is the kind's section.
	Settings outbox.Settings
	// sections are the kinds' sections found in YAML (more than one is an error).
	sections []string
}

// Kind is the target's kind: the kind of its settings, else its type.
func (t Target) Kind() string {
	if t.Settings != nil {
		return t.Settings.Kind()
	}
	return t.Type
}

// UnmarshalYAML decodes type, sync, require_current, allow_internal and the section of the target's kind
// (strictly: an unknown key in it is an error); ValidateTargets checks the rest.
func (t *Target) UnmarshalYAML(node *yaml.Node) error {
	var raw struct {
		Type           string               `yaml:"type"`
		Sync           bool                 `yaml:"sync"`
		RequireCurrent bool                 `yaml:"require_current"`
		AllowInternal  bool                 `yaml:"allow_internal"`
		Sections       map[string]yaml.Node `yaml:",inline"`
	}
	if err := node.Decode(&raw); err != nil {
		return err
	}
	kinds := Kinds()
	*t = Target{Type: raw.Type, Sync: raw.Sync, RequireCurrent: raw.RequireCurrent, AllowInternal: raw.AllowInternal}
	for _, name := range slices.Sorted(maps.Keys(raw.Sections)) {
		if kinds[name] == nil {
			n := raw.Sections[name]
			return fmt.Errorf("line %d: provisioning target: unknown key %q (known: type, sync, require_current, allow_internal, %s)",
				n.Line, name, strings.Join(slices.Sorted(maps.Keys(kinds)), ", "))
		}
		t.sections = append(t.sections, name)
	}
	kind := t.Type
	if kind == "" && len(t.sections) == 1 {
		kind = t.sections[0]
	}
	sec, ok := raw.Sections[kind]
	if !ok || kinds[kind] == nil {
		return nil // ValidateTargets names what is missing
	}
	settings := kinds[kind]()
	if err := decodeStrict(&sec, settings); err != nil {
		return fmt.Errorf("line %d: provisioning target %s section: %w", sec.Line, kind, err)
	}
	t.Settings = settings
	return nil
}

// decodeStrict decodes a node refusing unknown fields, as the server's config file is.
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// ValidateTargets checks the provisioning targets, each by its kind; it reports every
// error, each naming its field as "provisioning.<client>.<field>".
func ValidateTargets(targets map[string]Target) error {
	kinds := Kinds()
	names := strings.Join(slices.Sorted(maps.Keys(kinds)), " or ")
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(targets)) {
		t := targets[id]
		prefix := "provisioning." + id
		switch {
		case id == "":
			errs = append(errs, fmt.Errorf("provisioning: empty client id"))
		case t.Type != "" && kinds[t.Type] == nil:
			errs = append(errs, fmt.Errorf("%s.type: %q is not a kind of target (%s)", prefix, t.Type, names))
		case len(t.sections) > 1:
			errs = append(errs, fmt.Errorf("%s: set exactly one of %s", prefix, names))
		case t.Settings == nil && t.Type != "":
			errs = append(errs, fmt.Errorf("%s.%s: required for type %s", prefix, t.Type, t.Type))
		case t.Settings == nil:
			errs = append(errs, fmt.Errorf("%s: set exactly one of %s", prefix, names))
		case t.Type != "" && t.Type != t.Settings.Kind():
			errs = append(errs, fmt.Errorf("%s.type: %q, but the section is %s", prefix, t.Type, t.Settings.Kind()))
		default:
			if err := t.Settings.Validate(prefix + "." + t.Settings.Kind()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
