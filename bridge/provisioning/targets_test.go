package provisioning_test

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ssobridge/ssobridge/bridge/outbox/scim"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
)

// decodeTargets decodes a provisioning section strictly, as the server's config file is.
func decodeTargets(t *testing.T, src string) (map[string]provisioning.Target, error) {
	t.Helper()
	var out map[string]provisioning.Target
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	err := dec.Decode(&out)
	return out, err
}

// TestTargetYAML: today's form (one kind's section) and the typed form decode to the kind's
// settings; each mistake is an error naming the client and the field.
func TestTargetYAML(t *testing.T) {
	secret := "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	for _, tc := range []struct {
		name, src string
		kind      string // of the decoded target when valid
		decodeErr string
		validErr  string
	}{
		{name: "scim section", kind: scim.Kind,
			src: "portal:\n  sync: true\n  require_current: true\n  scim: {url: https://p.example.org/scim/v2, token: t, update: patch, groups: true}\n"},
		{name: "webhook section", kind: webhook.Kind,
			src: "events:\n  webhook: {url: https://e.example.org/hook, secret: " + secret + "}\n"},
		{name: "type and section", kind: webhook.Kind,
			src: "events:\n  type: webhook\n  webhook: {url: https://e.example.org/hook, secret: " + secret + "}\n"},
		{name: "no section", src: "events: {sync: true}\n", validErr: "provisioning.events: set exactly one of scim or webhook"},
		{name: "two sections", src: "events:\n  type: webhook\n  webhook: {url: https://e.example.org/hook, secret: " + secret +
			"}\n  scim: {url: https://p.example.org/scim/v2, token: t}\n", validErr: "provisioning.events: set exactly one of scim or webhook"},
		{name: "type without its section", src: "events:\n  type: webhook\n  scim: {url: https://p.example.org/scim/v2, token: t}\n",
			validErr: "provisioning.events.webhook: required for type webhook"},
		{name: "unknown type", src: "events:\n  type: ldap\n", validErr: "provisioning.events.type: \"ldap\" is not a kind"},
		{name: "unknown key", src: "events:\n  ldap: {url: x}\n", decodeErr: `unknown key "ldap"`},
		{name: "unknown field in a section", src: "events:\n  webhook: {url: https://e.example.org/hook, secret: " + secret + ", retries: 3}\n",
			decodeErr: "field retries not found"},
		{name: "kind's own check", src: "events:\n  webhook: {url: http://e.example.org/hook, secret: " + secret + "}\n",
			validErr: "provisioning.events.webhook.url:"},
		{name: "scim token", src: "portal:\n  scim: {url: https://p.example.org/scim/v2}\n", validErr: "provisioning.portal.scim.token:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			targets, err := decodeTargets(t, tc.src)
			if tc.decodeErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.decodeErr) {
					t.Fatalf("decode = %v, want %q", err, tc.decodeErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			err = provisioning.ValidateTargets(targets)
			if tc.validErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.validErr) {
					t.Fatalf("ValidateTargets = %v, want %q", err, tc.validErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ValidateTargets: %v", err)
			}
			for id, tg := range targets {
				if tg.Kind() != tc.kind {
					t.Errorf("%s: kind %q, want %q", id, tg.Kind(), tc.kind)
				}
			}
		})
	}
}

// TestTargetYAMLSettings: the section's values reach the kind's settings, the rest the target.
func TestTargetYAMLSettings(t *testing.T) {
	targets, err := decodeTargets(t, "portal:\n  sync: true\n  require_current: true\n  scim: {url: https://p.example.org/scim/v2, token: t, update: patch, groups: true}\n")
	if err != nil {
		t.Fatal(err)
	}
	tg := targets["portal"]
	c, ok := tg.Settings.(*scim.Config)
	if !ok || !tg.Sync || !tg.RequireCurrent || *c != (scim.Config{URL: "https://p.example.org/scim/v2", Token: "t", Update: "patch", Groups: true}) {
		t.Fatalf("decoded %+v (settings %#v)", tg, tg.Settings)
	}
}

// TestValidateTargetsReportsAll: every target's error is reported at once.
func TestValidateTargetsReportsAll(t *testing.T) {
	err := provisioning.ValidateTargets(map[string]provisioning.Target{
		"a": {Settings: &scim.Config{URL: "https://p.example.org"}},
		"b": {Settings: &webhook.Config{URL: "https://e.example.org", Secret: "plain"}},
	})
	if err == nil || !strings.Contains(err.Error(), "provisioning.a.scim.token:") || !strings.Contains(err.Error(), "provisioning.b.webhook.secret:") {
		t.Fatalf("ValidateTargets = %v, want both targets' errors", err)
	}
}

// FuzzTargetYAML: any provisioning section decodes or fails without a panic, and one that
// decodes and validates has every target's kind settings.
func FuzzTargetYAML(f *testing.F) {
	for _, s := range []string{
		"portal:\n  scim: {url: https://p.example.org/scim/v2, token: t}\n",
		"events:\n  type: webhook\n  webhook: {url: https://e.example.org/hook, secret: whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=}\n",
		"events:\n  type: webhook\n  scim: {}\n", "x: {type: ldap}\n", "x: 1\n", "x:\n  scim: [1]\n", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var out map[string]provisioning.Target
		dec := yaml.NewDecoder(strings.NewReader(src))
		dec.KnownFields(true)
		if dec.Decode(&out) != nil {
			return
		}
		if provisioning.ValidateTargets(out) != nil {
			return
		}
		for id, tg := range out {
			if tg.Settings == nil || tg.Kind() == "" {
				t.Fatalf("target %q valid without settings: %+v", id, tg)
			}
		}
	})
}
