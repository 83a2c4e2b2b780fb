package saml

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// SP is a service provider as the IdP uses it: the bridge's settings and the SAML metadata the
// library checks requests against and sends responses by.
type SP struct {
	Settings config.SAMLServiceProvider
	EntityID string
	// Metadata is what the library sees: encryption keys only when assertions are encrypted,
	// AuthnRequestsSigned set when the settings require signed requests.
	Metadata *crewjam.EntityDescriptor
	// FromConfig: entered in the configuration file (the CLI cannot remove it).
	FromConfig bool
}

// Name is the SP's display name.
func (sp *SP) Name() string {
	if sp.Settings.Name != "" {
		return sp.Settings.Name
	}
	return sp.Settings.ID
}

// SPStore keeps the SPs registered with the CLI.
type SPStore interface {
	CreateSAMLServiceProvider(ctx context.Context, sp *store.SAMLServiceProvider) error
	SAMLServiceProviders(ctx context.Context) ([]*store.SAMLServiceProvider, error)
	// DeleteSAMLServiceProviderCounted deletes an SP and says what it deleted with it.
	DeleteSAMLServiceProviderCounted(ctx context.Context, entityID string) (store.SAMLRemoval, error)
	// ReplaceSAMLServiceProvider gives an SP new metadata in place, a compare-and-set against
	// the record read (store.SAMLReplacer).
	ReplaceSAMLServiceProvider(ctx context.Context, old *store.SAMLServiceProvider, settings, metadata []byte) error
}

// Registry finds SPs: those of the configuration file, then those registered with the CLI,
// read from the store once and kept in memory (the server builds them at start-up: Load). A
// stored SP whose record no longer builds (its metadata does not parse or fails a check added
// since it was registered: possible after an upgrade; registration refuses such metadata) is not
// served: it is refused by id and entity id with an UnusableError, listed by Unusable and logged
// (Logger) each time the records are read anew, and it can be removed; the other SPs are served
// as before. Refresh reads them again: the server subscribes it to the replicas' change
// notifications (cluster.TopicSAML), which Register and Remove send through Changes, so an SP
// registered on one replica (or with the CLI) is served by every replica at once; the
// notifier's periodic fallback calls Refresh too.
type Registry struct {
	static []*SP
	store  SPStore
	now    func() time.Time
	// Changed, when set, tells every replica after Register and Remove commit (a
	// cluster.Notifier's Notify of cluster.TopicSAML).
	Changed func(ctx context.Context) error
	// ConfigClientIDs are the ids of the configuration file's OpenID clients, each with what
	// gives it (bridge.ConfigClientIDs): Register refuses them (one id names one app). The
	// store refuses a stored client's id itself (store.ErrAppIDTaken). Nil: none.
	ConfigClientIDs map[string]string
	// Logger, when set, gets an error line for each stored SP that does not build, each time the
	// records are read anew (at start-up, and after a change).
	Logger *slog.Logger
	// EmailVerified is the configuration's email_verified (policy.Config): the operator's
	// statement that the AMS verifies e-mail addresses. Without it an SP with name_id_format
	// email is refused at registration and, stored, is unusable (CheckEmailNameID).
	EmailVerified bool

	mu sync.Mutex
	// loaded: lookups use stored as it is; built: stored and unusable are built from the
	// records digest was taken of (Refresh builds again only when they changed).
	loaded   bool
	built    bool
	stored   []*SP
	unusable []UnusableSP
	digest   [sha256.Size]byte // of the records stored is built from
	// expires: the earliest validUntil still to come of the stored SPs built (zero: none);
	// from then on they are built again (Refresh), which warns of the expired one.
	expires time.Time
}

// NewRegistry builds the registry from the configuration's SPs (checked) and the store.
func NewRegistry(cfg config.SAMLConfig, st SPStore, now func() time.Time) (*Registry, error) {
	if now == nil {
		now = time.Now
	}
	r := &Registry{store: st, now: now}
	for i, c := range cfg.ServiceProviders {
		sp, err := FromConfig(c)
		if err != nil {
			return nil, fmt.Errorf("saml.service_providers[%d]: %w", i, err)
		}
		r.static = append(r.static, sp)
	}
	return r, nil
}

// FromConfig builds an SP entered by hand, its metadata made from its fields.
func FromConfig(c config.SAMLServiceProvider) (*SP, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	desc := crewjam.SPSSODescriptor{SSODescriptor: crewjam.SSODescriptor{RoleDescriptor: crewjam.RoleDescriptor{
		ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol"}}}
	if c.Certificate != "" {
		cert, _ := config.ParseSAMLCertificate(c.Certificate)
		data := base64.StdEncoding.EncodeToString(cert.Raw)
		desc.KeyDescriptors = append(desc.KeyDescriptors, crewjam.KeyDescriptor{Use: "signing",
			KeyInfo: crewjam.KeyInfo{X509Data: crewjam.X509Data{X509Certificates: []crewjam.X509Certificate{{Data: data}}}}})
		// encryption_method becomes the key's EncryptionMethod, as an SP registered from
		// metadata says it (assertionCipher reads both alike); none: AES-256-GCM.
		var methods []crewjam.EncryptionMethod
		if alg := config.SAMLEncryptionMethods[c.EncryptionMethod]; alg != "" {
			methods = []crewjam.EncryptionMethod{{Algorithm: alg}}
		}
		desc.KeyDescriptors = append(desc.KeyDescriptors, crewjam.KeyDescriptor{Use: "encryption", EncryptionMethods: methods,
			KeyInfo: crewjam.KeyInfo{X509Data: crewjam.X509Data{X509Certificates: []crewjam.X509Certificate{{Data: data}}}}})
	}
	for i, u := range c.ACSURLs {
		desc.AssertionConsumerServices = append(desc.AssertionConsumerServices,
			crewjam.IndexedEndpoint{Binding: crewjam.HTTPPostBinding, Location: u, Index: i + 1})
	}
	if c.SLOURL != "" {
		desc.SingleLogoutServices = append(desc.SingleLogoutServices, crewjam.Endpoint{Binding: crewjam.HTTPRedirectBinding, Location: c.SLOURL})
	}
	if c.SOAPSLOURL != "" {
		desc.SingleLogoutServices = append(desc.SingleLogoutServices, crewjam.Endpoint{Binding: crewjam.SOAPBinding, Location: c.SOAPSLOURL})
	}
	md := &crewjam.EntityDescriptor{EntityID: c.EntityID, SPSSODescriptors: []crewjam.SPSSODescriptor{desc}}
	return newSP(c, md, true)
}

// FromMetadata builds an SP from its SAML metadata and the bridge's settings at registration,
// at now: metadata whose validUntil (ValidUntil) is not after now is refused (SAML metadata 2.0
// section 2.3.1: it has expired), so that an SP is not registered from an old copy. A stored SP
// whose metadata expires later is still served and named in a warning (Refresh, `saml list`):
// the bridge does not fetch metadata again by itself, and many SP toolkits (crewjam/saml, the
// OneLogin toolkits) publish a validUntil of two days, so refusing them then would turn such
// SPs off two days after each registration.
func FromMetadata(settings config.SAMLServiceProvider, metadata []byte, now time.Time) (*SP, error) {
	sp, err := storedFromMetadata(settings, metadata)
	if err != nil {
		return nil, err
	}
	if until := ValidUntil(sp.Metadata); !until.IsZero() && !now.Before(until) {
		return nil, fmt.Errorf("metadata: expired at %s (its validUntil); get the SP's current metadata",
			until.UTC().Format(time.RFC3339))
	}
	return sp, nil
}

// storedFromMetadata is FromMetadata without the validUntil check: a stored SP's build.
func storedFromMetadata(settings config.SAMLServiceProvider, metadata []byte) (*SP, error) {
	if err := settings.CheckSettings(); err != nil {
		return nil, err
	}
	md, err := parseSPMetadata(metadata)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if len(md.SPSSODescriptors) == 0 {
		return nil, errors.New("metadata: no SPSSODescriptor (is this an SP's metadata?)")
	}
	return newSP(settings, md, false)
}

// ValidUntil is when an SP's metadata expires: the earliest validUntil of its EntityDescriptor
// (which carries those of the EntitiesDescriptors enclosing it: parseSPMetadata) and its
// SPSSODescriptors; zero when none has one.
func ValidUntil(md *crewjam.EntityDescriptor) time.Time {
	until := md.ValidUntil
	for _, d := range md.SPSSODescriptors {
		if v := d.ValidUntil; v != nil && !v.IsZero() && (until.IsZero() || v.Before(until)) {
			until = *v
		}
	}
	return until
}

// newSP checks the metadata against the settings and shapes what the library sees.
func newSP(c config.SAMLServiceProvider, md *crewjam.EntityDescriptor, fromConfig bool) (*SP, error) {
	if md.EntityID == "" {
		return nil, errors.New("metadata: no entityID")
	}
	acs := 0
	encryptable := false
	for i := range md.SPSSODescriptors {
		d := &md.SPSSODescriptors[i]
		var keys []crewjam.KeyDescriptor
		for _, k := range d.KeyDescriptors {
			switch {
			case k.Use == "encryption" || k.Use == "":
				encryptable = true
				if c.EncryptAssertions {
					keys = append(keys, k)
				}
				if k.Use == "" {
					k.Use = "signing"
					keys = append(keys, k)
				}
			default:
				keys = append(keys, k)
			}
		}
		d.KeyDescriptors = keys
		if c.AuthnRequestsSigned {
			yes := true
			d.AuthnRequestsSigned = &yes
		}
		for _, ep := range d.AssertionConsumerServices {
			if !httpBinding(ep.Binding) {
				continue // never used (PAOS...); the library blanks its Location
			}
			if err := config.CheckSAMLEndpoint(ep.Location); err != nil {
				return nil, fmt.Errorf("metadata: the AssertionConsumerService %q %w", ep.Location, err)
			}
			if ep.Binding == crewjam.HTTPPostBinding {
				acs++
			}
		}
		for _, ep := range d.SingleLogoutServices {
			if ep.Binding == crewjam.SOAPBinding {
				continue // checked apart (config.CheckSOAPSLOURL, allow_insecure_soap_slo)
			}
			if !httpBinding(ep.Binding) {
				continue // never used; the library blanks its Location
			}
			if err := config.CheckSAMLEndpoint(ep.Location); err != nil {
				return nil, fmt.Errorf("metadata: the SingleLogoutService %q %w", ep.Location, err)
			}
		}
	}
	if acs == 0 {
		return nil, errors.New("metadata: no assertion consumer service with the HTTP-POST binding")
	}
	if c.EncryptAssertions && !encryptable {
		return nil, errors.New("encrypt_assertions: the SP's metadata has no encryption certificate")
	}
	if c.AuthnRequestsSigned && len(signingCerts(md)) == 0 {
		return nil, errors.New("authn_requests_signed: the SP's metadata has no signing certificate")
	}
	if c.LogoutResponsesSigned && len(signingCerts(md)) == 0 {
		return nil, errors.New("logout_responses_signed: the SP's metadata has no signing certificate")
	}
	return &SP{Settings: c, EntityID: md.EntityID, Metadata: md, FromConfig: fromConfig}, nil
}

// httpBinding: the binding sends the browser to the endpoint's Location, which must then be
// https (http on loopback). The library keeps the Location of these bindings and SOAP's only,
// and blanks the others' (PAOS, which mod_auth_mellon's metadata lists, among them); the
// bridge sends nothing to those.
func httpBinding(binding string) bool {
	switch binding {
	case crewjam.HTTPPostBinding, crewjam.HTTPRedirectBinding, crewjam.HTTPArtifactBinding, crewjam.HTTPPostSimpleSignBinding:
		return true
	}
	return false
}

func signingCerts(md *crewjam.EntityDescriptor) []string {
	var out []string
	for _, d := range md.SPSSODescriptors {
		for _, k := range d.KeyDescriptors {
			if k.Use == "signing" || k.Use == "" {
				for _, c := range k.KeyInfo.X509Data.X509Certificates {
					out = append(out, c.Data)
				}
			}
		}
	}
	return out
}

// Record is what the store keeps of an SP registered from metadata.
func Record(settings config.SAMLServiceProvider, metadata []byte, entityID string, now time.Time) (*store.SAMLServiceProvider, error) {
	s, err := json.Marshal(settings)
	if err != nil {
		return nil, err
	}
	return &store.SAMLServiceProvider{EntityID: entityID, ID: settings.ID, Settings: s, Metadata: metadata, CreatedAt: now}, nil
}

// All lists every SP: the configuration's, then the registered ones.
func (r *Registry) All(ctx context.Context) ([]*SP, error) {
	stored, err := r.loadStored(ctx)
	if err != nil {
		return nil, err
	}
	return append(slices.Clone(r.static), stored...), nil
}

func (r *Registry) loadStored(ctx context.Context) ([]*SP, error) {
	r.mu.Lock()
	loaded, stored, expires := r.loaded, r.stored, r.expires
	r.mu.Unlock()
	if loaded && (expires.IsZero() || r.now().Before(expires)) {
		return stored, nil
	}
	if err := r.Refresh(ctx); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stored, nil
}

// Refresh reads the registered SPs from the store, and rebuilds them when the records changed.
func (r *Registry) Refresh(ctx context.Context) error {
	recs, err := r.store.SAMLServiceProviders(ctx)
	if err != nil {
		return fmt.Errorf("saml service providers: %w", err)
	}
	h := sha256.New()
	for _, rec := range recs {
		for _, b := range [][]byte{[]byte(rec.EntityID), rec.Settings, rec.Metadata} {
			fmt.Fprintf(h, "%d:", len(b))
			h.Write(b)
		}
	}
	var digest [sha256.Size]byte
	h.Sum(digest[:0])
	now := r.now()
	r.mu.Lock()
	same := r.built && digest == r.digest && (r.expires.IsZero() || now.Before(r.expires))
	if same {
		r.loaded = true
	}
	r.mu.Unlock()
	if same {
		return nil
	}
	out, unusable := buildStored(recs, r.EmailVerified)
	// expires: the next validUntil to pass, when the stored SPs are built again so that the
	// warning below names the SP at the moment its metadata expires.
	var expires time.Time
	for _, sp := range out {
		v := ValidUntil(sp.Metadata)
		switch {
		case v.IsZero():
		case !now.Before(v):
			if r.Logger != nil {
				r.Logger.WarnContext(ctx, "saml service provider's metadata has expired (its validUntil); it is still served: give it the SP's current metadata with ssobridge saml refresh <sp> --metadata-url or --metadata-file",
					"entity_id", sp.EntityID, "sp", sp.Settings.ID, "valid_until", v.UTC().Format(time.RFC3339))
			}
		case expires.IsZero() || v.Before(expires):
			expires = v
		}
	}
	for _, u := range unusable {
		if r.Logger != nil {
			r.Logger.ErrorContext(ctx, "saml service provider refused: its stored registration does not build; give it the SP's current metadata (ssobridge saml refresh <sp>), or remove it and register it again",
				"entity_id", u.EntityID, "sp", u.ID, "err", u.Err)
		}
	}
	r.mu.Lock()
	r.stored, r.unusable, r.digest, r.loaded, r.built, r.expires = out, unusable, digest, true, true, expires
	r.mu.Unlock()
	return nil
}

// Load builds the stored SPs now (the server's start-up), logging each that does not build
// (Logger). The first lookup after it still reads the records, as a registry not loaded does,
// so an SP registered since (the CLI, another process) is found then; it builds nothing again
// unless the records changed.
func (r *Registry) Load(ctx context.Context) error {
	if err := r.Refresh(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	r.loaded = false
	r.mu.Unlock()
	return nil
}

// UnusableSP is a stored SP whose record does not build (Registry).
type UnusableSP struct {
	ID, EntityID string
	Err          error
	// logout is the SP as single logout needs it (its settings, entity id, certificates and
	// single logout services), when its settings and metadata still read: the record was
	// refused by a rule of sign-ins (an http ACS, an e-mail NameID without email_verified...).
	// Nil when they do not read. ForLogout.
	logout *SP
	// settings are its stored settings when they read; nil otherwise (Settings).
	settings *config.SAMLServiceProvider
}

// Settings are the SP's stored settings, false when they do not read.
func (u UnusableSP) Settings() (config.SAMLServiceProvider, bool) {
	if u.settings == nil {
		return config.SAMLServiceProvider{}, false
	}
	return *u.settings, true
}

// GetsLogouts reports whether u is still sent its members' logouts (and its own LogoutRequests
// answered: ForLogout), though refused for sign-ins: its settings and metadata still read, and
// a rule of sign-ins added since its registration refuses it. False when they do not read: its
// queued logouts fail at once and its LogoutRequests are refused.
func (u UnusableSP) GetsLogouts() bool { return u.logout != nil }

// ErrUnusable is wrapped in the error of a lookup that finds an SP whose stored record does not
// build (UnusableError).
var ErrUnusable = errors.New("the service provider's stored registration does not build")

// UnusableError is the answer to a lookup of an SP whose stored record does not build.
type UnusableError struct{ SP UnusableSP }

func (e *UnusableError) Error() string {
	return fmt.Sprintf("saml service provider %s (%s): %v: %v", e.SP.EntityID, e.SP.ID, ErrUnusable, e.SP.Err)
}

func (e *UnusableError) Is(target error) bool { return target == ErrUnusable }
func (e *UnusableError) Unwrap() error        { return e.SP.Err }

// Unusable lists the stored SPs whose records do not build (reading them first if need be).
func (r *Registry) Unusable(ctx context.Context) ([]UnusableSP, error) {
	if _, err := r.loadStored(ctx); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.unusable), nil
}

// changed reads the SPs again after this process changed them and tells the other replicas.
// The change is committed whatever the notification does: when it fails, the others find the
// change at their next periodic check, and the error says so.
func (r *Registry) changed(ctx context.Context) error {
	if err := r.Refresh(ctx); err != nil {
		r.mu.Lock()
		r.loaded = false // read them at the next lookup
		r.mu.Unlock()
	}
	if r.Changed == nil {
		return nil
	}
	if err := r.Changed(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrNotNotified, err)
	}
	return nil
}

// ErrNotNotified is wrapped in Register's and Remove's error when the change is stored but the
// other replicas could not be told at once (they read it at their next periodic check).
var ErrNotNotified = errors.New("saved, but the other replicas could not be told at once; they pick the change up within seconds")

// buildStored builds the stored SPs; those that do not build are returned apart. An expired
// validUntil does not stop a stored SP (FromMetadata says why; Refresh warns).
func buildStored(recs []*store.SAMLServiceProvider, emailVerified bool) (out []*SP, unusable []UnusableSP) {
	for _, rec := range recs {
		var settings config.SAMLServiceProvider
		if err := json.Unmarshal(rec.Settings, &settings); err != nil {
			unusable = append(unusable, UnusableSP{ID: rec.ID, EntityID: rec.EntityID, Err: fmt.Errorf("settings: %w", err)})
			continue
		}
		sp, err := storedFromMetadata(settings, rec.Metadata)
		if err == nil {
			err = config.CheckEmailNameID(settings.NameIDFormat, emailVerified)
		}
		if err != nil {
			unusable = append(unusable, UnusableSP{ID: rec.ID, EntityID: rec.EntityID, Err: err, logout: logoutOnly(settings, rec), settings: &settings})
			continue
		}
		out = append(out, sp)
	}
	return out, unusable
}

// logoutOnly is a stored SP refused for sign-ins as single logout needs it (UnusableSP.logout):
// its metadata as it reads, unchecked (the checks are sign-ins'; the SOAP single logout service
// is checked at delivery, BackChannelSender.Deliver); nil when it does not read as this SP's.
func logoutOnly(settings config.SAMLServiceProvider, rec *store.SAMLServiceProvider) *SP {
	md, err := parseSPMetadata(rec.Metadata)
	if err != nil || len(md.SPSSODescriptors) == 0 || md.EntityID != rec.EntityID {
		return nil
	}
	return &SP{Settings: settings, EntityID: md.EntityID, Metadata: md}
}

// ForLogout finds an SP by entity id for single logout, on every path (the back channel, the
// browser chain, the SP's own LogoutRequest and its answers): a served SP, or a stored SP
// refused for sign-ins whose settings and metadata still read (an http ACS, an e-mail NameID
// without email_verified: rules added since it was registered). Ending a member's session at
// an SP they signed in to is the safe direction; the SP's messages are still checked against
// its certificates, and its SOAP logout service where the logout is sent. ByEntityID's errors
// otherwise (ErrUnusable when the record does not read at all).
func (r *Registry) ForLogout(ctx context.Context, entityID string) (*SP, error) {
	sp, err := r.ByEntityID(ctx, entityID)
	var u *UnusableError
	if errors.As(err, &u) && u.SP.logout != nil {
		return u.SP.logout, nil
	}
	return sp, err
}

// ByEntityID finds an SP by entity id; sso.ErrNotFound when none.
func (r *Registry) ByEntityID(ctx context.Context, entityID string) (*SP, error) {
	return r.find(ctx, func(sp *SP) bool { return sp.EntityID == entityID })
}

// ByID finds an SP by the bridge's id for it; sso.ErrNotFound when none.
func (r *Registry) ByID(ctx context.Context, id string) (*SP, error) {
	return r.find(ctx, func(sp *SP) bool { return sp.Settings.ID == id })
}

func (r *Registry) find(ctx context.Context, match func(*SP) bool) (*SP, error) {
	all, err := r.All(ctx)
	if err != nil {
		return nil, err
	}
	for _, sp := range all {
		if match(sp) {
			return sp, nil
		}
	}
	if u := r.unusableMatch(match); u != nil {
		return nil, &UnusableError{SP: *u}
	}
	return nil, sso.ErrNotFound
}

// unusableMatch is the stored SP that does not build that match (given its id and entity id)
// finds; nil when none.
func (r *Registry) unusableMatch(match func(*SP) bool) *UnusableSP {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.unusable {
		if match(&SP{Settings: config.SAMLServiceProvider{ID: u.ID}, EntityID: u.EntityID}) {
			return &u
		}
	}
	return nil
}

// Register stores an SP registered from metadata: its id and entity id must be new.
func (r *Registry) Register(ctx context.Context, settings config.SAMLServiceProvider, metadata []byte, now time.Time) (*SP, error) {
	sp, err := r.fromNewMetadata(settings, metadata)
	if err != nil {
		return nil, err
	}
	if other, ok := r.ConfigClientIDs[sp.Settings.ID]; ok {
		return nil, appIDTaken(sp.Settings.ID, other)
	}
	all, err := r.All(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range all {
		if o.Settings.ID == sp.Settings.ID {
			return nil, appIDTaken(o.Settings.ID, "SAML service provider "+o.EntityID) // as the store says it
		}
		if o.EntityID == sp.EntityID {
			return nil, fmt.Errorf("entity id %s is registered already (as %q); to give it new metadata: ssobridge saml refresh %s",
				o.EntityID, o.Settings.ID, o.Settings.ID)
		}
	}
	rec, err := Record(settings, metadata, sp.EntityID, now)
	if err != nil {
		return nil, err
	}
	if err := r.store.CreateSAMLServiceProvider(ctx, rec); err != nil {
		var taken *store.AppIDTakenError
		switch {
		case errors.As(err, &taken): // a client (or SP) stored meanwhile, or since All
			return nil, &storeRefusal{msg: appIDTaken(sp.Settings.ID, taken.Other).Error(), err: err}
		case errors.Is(err, sso.ErrConflict): // the entity id registered meanwhile (the check above is not atomic)
			return nil, &storeRefusal{msg: fmt.Sprintf("entity id %s is registered already", sp.EntityID), err: err}
		}
		return nil, err
	}
	return sp, r.changed(ctx)
}

// fromNewMetadata builds an SP from metadata given now (Register, ReplaceMetadata), with every
// check of a registration: FromMetadata's (the settings, the metadata, https endpoints,
// certificates, validUntil not passed), the e-mail NameID rule and the SOAP single logout
// service's.
func (r *Registry) fromNewMetadata(settings config.SAMLServiceProvider, metadata []byte) (*SP, error) {
	sp, err := FromMetadata(settings, metadata, r.now())
	if err != nil {
		return nil, err
	}
	if err := config.CheckEmailNameID(settings.NameIDFormat, r.EmailVerified); err != nil {
		return nil, err
	}
	// Checked at registration (an SP registered before the rule is refused at delivery
	// instead, BackChannelSender.Deliver, so that the stored SPs still load).
	if loc := soapSLO(sp); loc != "" {
		if err := config.CheckSOAPSLOURL(loc, settings.AllowInsecureSOAPSLO); err != nil {
			return nil, fmt.Errorf("metadata: the SingleLogoutService with the SOAP binding %q %w", loc, err)
		}
	}
	return sp, nil
}

// Replacement is what ReplaceMetadata did.
type Replacement struct {
	SP *SP // the SP as the new metadata builds it
	// Unchanged: the metadata given is the stored metadata, byte for byte; nothing was written.
	Unchanged bool
	// Was is the stored SP as it was built before (nil when its record did not build:
	// Unusable).
	Was *SP
	// Summary is what the bridge uses of the new metadata, WasSummary of the stored one (nil
	// when it does not read), both as the SP publishes them (Summarize).
	Summary    Summary
	WasSummary *Summary
}

// ErrReplacedMeanwhile is in ReplaceMetadata's error when the SP's record changed between the
// read and the write (another refresh, or a removal and a registration): nothing was replaced.
var ErrReplacedMeanwhile = errors.New("its registration changed while the new metadata was checked (another refresh, or a removal); nothing was replaced: run the command again")

// storedRecord is the registered SP idOrEntity names (by id or entity id) with its settings:
// sso.ErrNotFound (its message ending with hint) when none is, an error saying what to do when
// its stored settings do not read (ReplaceMetadata, ChangeSettings).
func (r *Registry) storedRecord(ctx context.Context, idOrEntity, hint string) (*store.SAMLServiceProvider, config.SAMLServiceProvider, error) {
	var settings config.SAMLServiceProvider
	rec, err := r.storedRec(ctx, idOrEntity, hint)
	if err != nil {
		return nil, settings, err
	}
	if err := json.Unmarshal(rec.Settings, &settings); err != nil {
		return nil, settings, fmt.Errorf("%s: its stored settings do not read (%v): remove it and register it again", rec.EntityID, err)
	}
	return rec, settings, nil
}

// storedRec is the stored record of the registered SP idOrEntity names (by id or entity id):
// sso.ErrNotFound (its message ending with hint) when none is (storedRecord, Describe).
func (r *Registry) storedRec(ctx context.Context, idOrEntity, hint string) (*store.SAMLServiceProvider, error) {
	recs, err := r.store.SAMLServiceProviders(ctx)
	if err != nil {
		return nil, fmt.Errorf("saml service providers: %w", err)
	}
	i := slices.IndexFunc(recs, func(rec *store.SAMLServiceProvider) bool { return rec.ID == idOrEntity || rec.EntityID == idOrEntity })
	if i < 0 {
		return nil, fmt.Errorf("no SAML service provider %q is registered%s: %w", idOrEntity, hint, sso.ErrNotFound)
	}
	return recs[i], nil
}

// ReplaceMetadata gives an SP registered from metadata (by id or entity id; one whose stored
// record no longer builds too, so that new metadata is its way out) new metadata in place:
// the metadata is checked as a registration's (fromNewMetadata) with the SP's stored settings,
// and must be of the same entity id. It is stored with a compare-and-set against the record
// read (store.SAMLReplacer): of two refreshes at once, one is stored and the other is refused
// with ErrReplacedMeanwhile. The SP keeps its id, its policy, its places in sessions (its
// members' single logout still reaches it) and its undelivered events. An SP of the
// configuration file is refused (edit it there). Like Register, a change the other replicas
// could not be told of at once comes with ErrNotNotified.
func (r *Registry) ReplaceMetadata(ctx context.Context, idOrEntity string, metadata []byte) (*Replacement, error) {
	if idOrEntity == "" {
		return nil, errors.New("name the SP to refresh by its id or entity id")
	}
	for _, sp := range r.static {
		if sp.Settings.ID == idOrEntity || sp.EntityID == idOrEntity {
			return nil, fmt.Errorf("%s is in the configuration file: edit it there", idOrEntity)
		}
	}
	rec, settings, err := r.storedRecord(ctx, idOrEntity, " (register it with ssobridge saml register)")
	if err != nil {
		return nil, err
	}
	sp, err := r.fromNewMetadata(settings, metadata)
	if err != nil {
		return nil, err
	}
	if sp.EntityID != rec.EntityID {
		return nil, fmt.Errorf("the metadata is of entity id %s, not %s (%q): an SP of another entity id is another SP (ssobridge saml register)",
			sp.EntityID, rec.EntityID, settings.ID)
	}
	out := &Replacement{SP: sp}
	if was, err := storedFromMetadata(settings, rec.Metadata); err == nil {
		out.Was = was
	}
	if md, err := parseSPMetadata(metadata); err == nil {
		out.Summary = Summarize(md)
	}
	if md, err := parseSPMetadata(rec.Metadata); err == nil {
		was := Summarize(md)
		out.WasSummary = &was
	}
	if bytes.Equal(metadata, rec.Metadata) {
		out.Unchanged = true
		return out, nil
	}
	if err := r.store.ReplaceSAMLServiceProvider(ctx, rec, rec.Settings, metadata); err != nil {
		switch {
		case errors.Is(err, sso.ErrConflict):
			return nil, &storeRefusal{msg: fmt.Sprintf("%s: %v", rec.EntityID, ErrReplacedMeanwhile), err: errors.Join(ErrReplacedMeanwhile, err)}
		case errors.Is(err, sso.ErrNotFound):
			return nil, &storeRefusal{msg: fmt.Sprintf("%s was removed while its new metadata was checked; nothing was stored", rec.EntityID), err: err}
		}
		return nil, err
	}
	return out, r.changed(ctx)
}

// appIDTaken says why an SP cannot have id: other (a client, or another SP) has it.
func appIDTaken(id, other string) error { return errors.New(store.AppIDRefusal("id", id, other)) }

// storeRefusal is the message of a refusal of the store's (appIDTaken's, an entity id
// registered meanwhile, a record replaced meanwhile), which stays underneath for errors.Is
// (store.ErrAppIDTaken, sso.ErrConflict, ErrReplacedMeanwhile) without its text said a second
// time.
type storeRefusal struct {
	msg string
	err error
}

func (e *storeRefusal) Error() string { return e.msg }
func (e *storeRefusal) Unwrap() error { return e.err }

// Remove deletes an SP registered with the CLI (by id or entity id), one whose stored record
// does not build too, and says what the store deleted with it (its places in sessions and its
// events not delivered). The removal stands when the other replicas could not be told: the
// counts come with ErrNotNotified then.
func (r *Registry) Remove(ctx context.Context, idOrEntity string) (store.SAMLRemoval, error) {
	all, err := r.All(ctx)
	if err != nil {
		return store.SAMLRemoval{}, err
	}
	entityID := ""
	for _, sp := range all {
		if sp.Settings.ID != idOrEntity && sp.EntityID != idOrEntity {
			continue
		}
		if sp.FromConfig {
			return store.SAMLRemoval{}, fmt.Errorf("%s is in the configuration file: remove it there", idOrEntity)
		}
		entityID = sp.EntityID
		break
	}
	// One whose record does not build goes too (so that it can be registered again).
	if entityID == "" {
		if u := r.unusableMatch(func(sp *SP) bool { return sp.Settings.ID == idOrEntity || sp.EntityID == idOrEntity }); u != nil {
			entityID = u.EntityID
		}
	}
	if entityID == "" {
		return store.SAMLRemoval{}, fmt.Errorf("no SAML service provider %q: %w", idOrEntity, sso.ErrNotFound)
	}
	removed, err := r.store.DeleteSAMLServiceProviderCounted(ctx, entityID)
	if err != nil {
		return store.SAMLRemoval{}, err
	}
	return removed, r.changed(ctx)
}

// libraryProvider is the library's ServiceProviderProvider over the registry: the SPs served
// for sign-ins (ByEntityID), or with logout those a single logout reaches too (ForLogout: an
// SP's own LogoutRequest).
type libraryProvider struct {
	r      *Registry
	logout bool
}

func (p libraryProvider) GetServiceProvider(req *http.Request, id string) (*crewjam.EntityDescriptor, error) {
	find := p.r.ByEntityID
	if p.logout {
		find = p.r.ForLogout
	}
	sp, err := find(req.Context(), id)
	if errors.Is(err, sso.ErrNotFound) {
		return nil, os.ErrNotExist
	}
	if err != nil {
		return nil, err
	}
	return sp.Metadata, nil
}
