package saml

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
)

// validUntilMetadata is an SP's metadata with the validUntil attributes given (empty: none) on
// its EntityDescriptor and its SPSSODescriptor.
func validUntilMetadata(entityID, entity, descriptor string) []byte {
	attr := func(v string) string {
		if v == "" {
			return ""
		}
		return ` validUntil="` + v + `"`
	}
	return []byte(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="` + entityID + `"` + attr(entity) + `>
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"` + attr(descriptor) + `>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + entityID + `/acs" index="1"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`)
}

// TestFromMetadataValidUntil (review s19 X19-3): metadata whose validUntil, the earliest of the
// EntityDescriptor's and the SPSSODescriptor's, is not after now is refused, saying when it
// expired; metadata without one, or valid still, builds. Before, validUntil was never read.
func TestFromMetadataValidUntil(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	for _, tc := range []struct {
		name               string
		entity, descriptor string
		expired            string // the expiry the refusal names; empty: builds
	}{
		{name: "none"},
		{name: "entity valid", entity: at(time.Hour)},
		{name: "descriptor valid", descriptor: at(time.Minute)},
		{name: "both valid", entity: at(time.Hour), descriptor: at(2 * time.Hour)},
		{name: "entity past", entity: at(-time.Second), expired: at(-time.Second)},
		{name: "entity expires now", entity: at(0), expired: at(0)},
		{name: "descriptor past", descriptor: at(-48 * time.Hour), expired: at(-48 * time.Hour)},
		{name: "descriptor past, entity valid", entity: at(time.Hour), descriptor: at(-time.Hour), expired: at(-time.Hour)},
		{name: "entity past, descriptor valid", entity: at(-time.Hour), descriptor: at(time.Hour), expired: at(-time.Hour)},
		{name: "both past, the earliest named", entity: at(-time.Hour), descriptor: at(-2 * time.Hour), expired: at(-2 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := validUntilMetadata("https://sp.example.org", tc.entity, tc.descriptor)
			sp, err := FromMetadata(config.SAMLServiceProvider{ID: "sp"}, md, now)
			if tc.expired == "" {
				if err != nil {
					t.Fatalf("metadata valid at %s refused: %v", now, err)
				}
				if sp.EntityID != "https://sp.example.org" {
					t.Fatalf("entity id %q", sp.EntityID)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "expired at "+tc.expired) {
				t.Fatalf("metadata expired at %s: %v; want a refusal naming when it expired", tc.expired, err)
			}
		})
	}
}

// TestRegistryValidUntil (review s19 X19-3): the registry's own clock decides (here ten days
// ahead of the machine's). Register refuses metadata expired by it; an SP registered while its
// metadata was valid becomes unusable once its validUntil passes, whichever way it is reached
// (by id, by entity id, the list of unusable SPs, a Refresh of records that did not change),
// with one error line; the other SP is served still.
func TestRegistryValidUntil(t *testing.T) {
	// Registration refuses expired metadata; a stored SP whose metadata expires later is still
	// served (the bridge fetches no metadata, and SP toolkits publish two-day validUntils), with
	// one warning when it expires, whichever way the registry is asked first.
	start := time.Now().Add(10 * 24 * time.Hour).UTC().Truncate(time.Second)
	const (
		short = "https://short.example.org"
		other = "https://other.example.org"
	)
	for _, tc := range []struct {
		name   string
		lookup func(t *testing.T, reg *Registry) error
	}{
		{"by id", func(t *testing.T, reg *Registry) error { _, err := reg.ByID(t.Context(), "short"); return err }},
		{"by entity id", func(t *testing.T, reg *Registry) error { _, err := reg.ByEntityID(t.Context(), short); return err }},
		{"unusable list", func(t *testing.T, reg *Registry) error {
			u, err := reg.Unusable(t.Context())
			if err == nil && len(u) != 0 {
				t.Fatalf("Unusable: %+v; want none", u)
			}
			return err
		}},
		{"refresh then by id", func(t *testing.T, reg *Registry) error {
			if err := reg.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			_, err := reg.ByID(t.Context(), "short")
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			_, regs := sqliteRegistries(t, 1)
			reg := regs[0]
			var mu sync.Mutex
			now := start
			reg.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			var logs bytes.Buffer
			reg.Logger = slog.New(slog.NewTextHandler(&logs, nil))

			// Valid by the machine's clock, expired by the registry's.
			_, err := reg.Register(ctx, config.SAMLServiceProvider{ID: "stale"},
				validUntilMetadata("https://stale.example.org", time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339), ""), start)
			if err == nil || !strings.Contains(err.Error(), "expired at") {
				t.Fatalf("register of metadata expired by the registry's clock: %v", err)
			}
			if _, err := reg.Register(ctx, config.SAMLServiceProvider{ID: "short"},
				validUntilMetadata(short, start.Add(time.Hour).Format(time.RFC3339), ""), start); err != nil {
				t.Fatal(err)
			}
			if _, err := reg.Register(ctx, config.SAMLServiceProvider{ID: "other"},
				validUntilMetadata(other, "", start.Add(48*time.Hour).Format(time.RFC3339)), start); err != nil {
				t.Fatal(err)
			}
			if sp, err := reg.ByID(ctx, "short"); err != nil || sp.EntityID != short {
				t.Fatalf("before its validUntil: %v", err)
			}
			if strings.Contains(logs.String(), short) {
				t.Fatalf("a warning before the validUntil:\n%s", logs.String())
			}

			mu.Lock()
			now = start.Add(time.Hour) // its validUntil
			mu.Unlock()
			if err := tc.lookup(t, reg); err != nil {
				t.Fatalf("after its validUntil: %v; want it still served", err)
			}
			for _, id := range []string{"short", "other"} {
				if _, err := reg.ByID(ctx, id); err != nil {
					t.Fatalf("%s after short's validUntil: %v", id, err)
				}
			}
			all, err := reg.All(ctx)
			if err != nil || len(all) != 2 {
				t.Fatalf("All: %d SPs, %v; want both", len(all), err)
			}
			want := "valid_until=" + start.Add(time.Hour).Format(time.RFC3339)
			if n := strings.Count(logs.String(), short); n != 1 || !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), want) ||
				!strings.Contains(logs.String(), "ssobridge saml refresh") {
				t.Fatalf("log lines naming the expired SP: %d, want 1 warning with %s:\n%s", n, want, logs.String())
			}
		})
	}
}
