package config

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbound"
	"github.com/ssobridge/ssobridge/internal/asciiname"
)

// SAMLConfig is the saml: section: the SAML 2.0 identity provider (package bridge/saml).
type SAMLConfig struct {
	// ServiceProviders are the SPs entered by hand (more are registered with the CLI).
	ServiceProviders []SAMLServiceProvider `yaml:"service_providers"`
	// WantAuthnRequestsSigned refuses unsigned AuthnRequests from every SP (and says so in the
	// metadata). Whatever it says, a signed request's signature is checked, and an SP whose
	// authn_requests_signed is true must sign.
	WantAuthnRequestsSigned bool `yaml:"want_authn_requests_signed"`
	// KeyRotateEvery is how long a signing key signs (default 365 days); KeyOverlap is how long
	// before that its successor is published in the metadata, and how long after it the old
	// certificate stays there (default 30 days).
	KeyRotateEvery time.Duration `yaml:"key_rotate_every"`
	KeyOverlap     time.Duration `yaml:"key_overlap"`
	// WantLogoutResponsesSigned refuses unsigned LogoutResponses to the back-channel (SOAP)
	// LogoutRequests of every SP. Whatever it says, a signed response's signature is checked
	// against the SP's certificates, and an SP whose logout_responses_signed is true must sign.
	WantLogoutResponsesSigned bool `yaml:"want_logout_responses_signed"`
}

// SAMLServiceProvider is one SAML service provider entered by hand (or, its settings only,
// registered with the CLI from its metadata).
type SAMLServiceProvider struct {
	// ID names the SP in the bridge: its claim policy and access rule are policies.<id>, its
	// link on the account page is /saml/start/<id>.
	ID   string `yaml:"id" json:"id"`
	Name string `yaml:"name" json:"name"`
	// EntityID is the SP's SAML entity id (the Issuer of its requests, the assertion's audience).
	EntityID string `yaml:"entity_id" json:"-"`
	// ACSURLs are the SP's assertion consumer service URLs (HTTP-POST binding), matched exactly;
	// the first is where IdP-initiated sign-ins go.
	ACSURLs []string `yaml:"acs_urls" json:"-"`
	// SLOURL is the SP's single logout service (HTTP-Redirect binding); empty: none.
	SLOURL string `yaml:"slo_url" json:"-"`
	// SOAPSLOURL is the SP's back-channel single logout service (SOAP binding), told whenever a
	// session it signed into ends, also without the browser; empty: none.
	SOAPSLOURL string `yaml:"soap_slo_url" json:"-"`
	// AllowInsecureSOAPSLO lets the SOAP single logout service (soap_slo_url, or the SOAP
	// SingleLogoutService of the SP's metadata) be plain http or on an internal address
	// (outbound.Internal: loopback, private, link-local, ...). Without it such a service is
	// refused: the bridge POSTs signed LogoutRequests there from inside the network, and over
	// plain http nothing authenticates the SP's answer. A host name is checked where the
	// bridge connects: one that resolves to an internal address is refused too. It also lets
	// the browser sign-out chain take the member's browser, with a LogoutRequest naming them,
	// to the SP's plain-http single logout service on another host; without it such an SP is
	// left out of the chain, audited as logout.untold (session 24, fca7d1a).
	AllowInsecureSOAPSLO bool `yaml:"allow_insecure_soap_slo" json:"allow_insecure_soap_slo,omitempty"`
	// Certificate is the SP's signing certificate (PEM): AuthnRequest and LogoutRequest
	// signatures are checked against it, and assertions encrypted to it when
	// encrypt_assertions is on.
	Certificate string `yaml:"certificate" json:"-"`
	// NameIDFormat is persistent (the member's subject, as the OIDC apps know it; the default)
	// or email (the member's e-mail address, for vendors that insist). email needs the top-level
	// email_verified: true: the AMS lets members type any address, and an SP keyed by e-mail
	// would sign a member in as whoever owns the address they typed.
	NameIDFormat string `yaml:"name_id_format" json:"name_id_format,omitempty"`
	// EncryptAssertions encrypts assertions to the SP's certificate.
	EncryptAssertions bool `yaml:"encrypt_assertions" json:"encrypt_assertions,omitempty"`
	// EncryptionMethod is the block cipher the assertions are encrypted with: aes256-gcm (the
	// default), aes128-gcm, or, for an SP that cannot decrypt AES-GCM (older Shibboleth SP
	// 2.x, older xmlsec), aes256-cbc or aes128-cbc. CBC is open to padding-oracle attacks:
	// choose it only for an SP that needs it. Only with encrypt_assertions. An SP registered
	// from metadata says this in its metadata's EncryptionMethod instead.
	EncryptionMethod string `yaml:"encryption_method" json:"-"`
	// AuthnRequestsSigned refuses the SP's unsigned AuthnRequests.
	AuthnRequestsSigned bool `yaml:"authn_requests_signed" json:"authn_requests_signed,omitempty"`
	// LogoutResponsesSigned refuses the SP's unsigned LogoutResponses to back-channel (SOAP)
	// LogoutRequests: its answer counts only when signed with its certificate.
	LogoutResponsesSigned bool `yaml:"logout_responses_signed" json:"logout_responses_signed,omitempty"`
	// AllowedRoles limits the roles attribute to these roles (compared case-insensitively), on
	// top of policies.<id>.allowed_roles. Empty: the policy decides alone.
	AllowedRoles []string `yaml:"allowed_roles" json:"allowed_roles,omitempty"`
	// Scopes are the claim scopes whose claims are released as attributes (default profile,
	// email, membership and roles), under the claim policy policies.<id>.
	Scopes []string `yaml:"scopes" json:"scopes,omitempty"`
}

// SAMLEncryptionMethods are the values of an SP's encryption_method: the XML Encryption
// algorithm URI of each (what an SP's metadata lists as an EncryptionMethod).
var SAMLEncryptionMethods = map[string]string{
	"aes256-gcm": "http://www.w3.org/2009/xmlenc11#aes256-gcm",
	"aes128-gcm": "http://www.w3.org/2009/xmlenc11#aes128-gcm",
	"aes256-cbc": "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
	"aes128-cbc": "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
}

// NameID formats of an SP.
const (
	SAMLNameIDPersistent = "persistent"
	SAMLNameIDEmail      = "email"
)

// Defaults of the key rotation.
const (
	DefaultSAMLKeyRotateEvery = 365 * 24 * time.Hour
	DefaultSAMLKeyOverlap     = 30 * 24 * time.Hour
)

// isSAMLSPID reports whether s is a service provider's id: 1 to 63 lower-case letters, digits,
// - or _, starting with a letter or a digit.
func isSAMLSPID(s string) bool {
	return asciiname.Valid(s, 63, asciiname.Lower+asciiname.Digits, asciiname.Lower+asciiname.Digits+"_-")
}

// Validate checks the section; each error names its field (saml.service_providers[i].field).
func (c *SAMLConfig) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("saml.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.KeyRotateEvery != 0 && c.KeyRotateEvery < 24*time.Hour {
		add("key_rotate_every", "must be at least 24h")
	}
	if c.KeyOverlap < 0 || (c.KeyOverlap != 0 && c.KeyOverlap >= c.RotateEvery()) {
		add("key_overlap", "must be shorter than key_rotate_every")
	}
	ids, entities := map[string]bool{}, map[string]bool{}
	for i, sp := range c.ServiceProviders {
		f := fmt.Sprintf("service_providers[%d].", i)
		if err := sp.Check(); err != nil {
			var fe *samlFieldError
			if errors.As(err, &fe) {
				add(f+fe.field, "%s", fe.msg)
			} else {
				add(f[:len(f)-1], "%v", err)
			}
			continue
		}
		if ids[sp.ID] {
			add(f+"id", "%q is used twice", sp.ID)
		}
		if entities[sp.EntityID] {
			add(f+"entity_id", "%q is used twice", sp.EntityID)
		}
		ids[sp.ID], entities[sp.EntityID] = true, true
	}
	return errors.Join(errs...)
}

func (c *SAMLConfig) RotateEvery() time.Duration {
	if c.KeyRotateEvery > 0 {
		return c.KeyRotateEvery
	}
	return DefaultSAMLKeyRotateEvery
}

func (c *SAMLConfig) Overlap() time.Duration {
	if c.KeyOverlap > 0 {
		return c.KeyOverlap
	}
	return min(DefaultSAMLKeyOverlap, c.RotateEvery()/4)
}

type samlFieldError struct{ field, msg string }

func (e *samlFieldError) Error() string { return e.field + ": " + e.msg }

func samlFieldErr(field, format string, args ...any) error {
	return &samlFieldError{field: field, msg: fmt.Sprintf(format, args...)}
}

// Check validates one SP entered by hand.
func (sp *SAMLServiceProvider) Check() error {
	if err := sp.CheckSettings(); err != nil {
		return err
	}
	if sp.EntityID == "" {
		return samlFieldErr("entity_id", "must not be empty")
	}
	if len(sp.ACSURLs) == 0 {
		return samlFieldErr("acs_urls", "must list at least one assertion consumer service URL")
	}
	for _, u := range sp.ACSURLs {
		if err := CheckSAMLEndpoint(u); err != nil {
			return samlFieldErr("acs_urls", "%q %v", u, err)
		}
	}
	if sp.SLOURL != "" {
		if err := CheckSAMLEndpoint(sp.SLOURL); err != nil {
			return samlFieldErr("slo_url", "%q %v", sp.SLOURL, err)
		}
	}
	if sp.SOAPSLOURL != "" {
		if err := checkSAMLURL(sp.SOAPSLOURL); err != nil {
			return samlFieldErr("soap_slo_url", "%q %v", sp.SOAPSLOURL, err)
		}
		if err := CheckSOAPSLOURL(sp.SOAPSLOURL, sp.AllowInsecureSOAPSLO); err != nil {
			return samlFieldErr("soap_slo_url", "%q %v", sp.SOAPSLOURL, err)
		}
	}
	if sp.Certificate != "" {
		if _, err := ParseSAMLCertificate(sp.Certificate); err != nil {
			return samlFieldErr("certificate", "%v", err)
		}
	}
	if (sp.EncryptAssertions || sp.AuthnRequestsSigned || sp.LogoutResponsesSigned) && sp.Certificate == "" {
		return samlFieldErr("certificate", "is required with encrypt_assertions, authn_requests_signed or logout_responses_signed")
	}
	if sp.EncryptionMethod != "" {
		if _, ok := SAMLEncryptionMethods[sp.EncryptionMethod]; !ok {
			return samlFieldErr("encryption_method", "%q must be aes256-gcm, aes128-gcm, aes256-cbc or aes128-cbc", sp.EncryptionMethod)
		}
		if !sp.EncryptAssertions {
			return samlFieldErr("encryption_method", "is set but encrypt_assertions is not: assertions are not encrypted")
		}
	}
	return nil
}

// CheckSettings checks what an SP registered from metadata has too.
func (sp *SAMLServiceProvider) CheckSettings() error {
	if !isSAMLSPID(sp.ID) {
		return samlFieldErr("id", "%q must be 1 to 63 lower-case letters, digits, - or _", sp.ID)
	}
	switch sp.NameIDFormat {
	case "", SAMLNameIDPersistent, SAMLNameIDEmail:
	default:
		return samlFieldErr("name_id_format", "%q must be persistent or email", sp.NameIDFormat)
	}
	return nil
}

// ErrUnverifiedEmailNameID is the refusal of name_id_format email without email_verified.
var ErrUnverifiedEmailNameID = errors.New("name_id_format: email needs email_verified: true, the statement that the AMS verifies " +
	"e-mail addresses (README \"email_verified\"): iMIS lets members type any address into their record, and an SP that " +
	"knows its users by e-mail would sign such a member in to the account of the person whose address they typed. " +
	"Use name_id_format persistent, or set email_verified: true only if the AMS verifies every address")

// CheckEmailNameID refuses an SP's name_id_format email (format) unless emailVerified (the
// configuration's email_verified): an e-mail NameID vouches for the address to the SP.
func CheckEmailNameID(format string, emailVerified bool) error {
	if format == SAMLNameIDEmail && !emailVerified {
		return ErrUnverifiedEmailNameID
	}
	return nil
}

// CheckEmailNameIDs is CheckEmailNameID of every SP entered by hand; each error names its SP.
func (c *SAMLConfig) CheckEmailNameIDs(emailVerified bool) error {
	var errs []error
	for i, sp := range c.ServiceProviders {
		if err := CheckEmailNameID(sp.NameIDFormat, emailVerified); err != nil {
			errs = append(errs, fmt.Errorf("saml.service_providers[%d].%w", i, err))
		}
	}
	return errors.Join(errs...)
}

func checkSAMLURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.Fragment != "" {
		return errors.New("must be an absolute http(s) URL without fragment")
	}
	return nil
}

// CheckSAMLEndpoint checks an SP's front-channel endpoint (assertion consumer service, single
// logout service): an absolute URL without fragment, https, http only on a loopback host (as
// redirect URIs): the bearer assertion posted there signs in whoever takes it on the way.
func CheckSAMLEndpoint(raw string) error {
	if err := checkSAMLURL(raw); err != nil {
		return err
	}
	if u, _ := url.Parse(raw); u.Scheme != "https" && !loopbackHost(u.Hostname()) {
		return errors.New("must use https (http is allowed only for localhost): the assertion sent there is a bearer credential")
	}
	return nil
}

// CheckSOAPSLOURL checks an SP's SOAP single logout service (an absolute http(s) URL): https,
// on a host that is not an internal address (loopback, private, link-local, unique-local,
// unspecified, multicast: outbound.Internal; or localhost), unless allowInsecure (the SP's
// allow_insecure_soap_slo). A host name is not resolved here: the outbound client's dialer
// refuses internal addresses when the bridge connects.
func CheckSOAPSLOURL(raw string, allowInsecure bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("is not a URL")
	}
	if allowInsecure {
		return nil
	}
	if u.Scheme != "https" {
		return errors.New("must be https (plain http is allowed only with allow_insecure_soap_slo)")
	}
	if h := u.Hostname(); strings.EqualFold(strings.TrimSuffix(h, "."), "localhost") || strings.HasSuffix(strings.ToLower(strings.TrimSuffix(h, ".")), ".localhost") {
		return errors.New("is an internal address (allowed only with allow_insecure_soap_slo)")
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && outbound.Internal(ip) {
		return errors.New("is an internal address (allowed only with allow_insecure_soap_slo)")
	}
	return nil
}

// ParseCertificate reads a PEM certificate (or the base64 DER of one, as metadata holds it).
func ParseSAMLCertificate(s string) (*x509.Certificate, error) {
	if b, _ := pem.Decode([]byte(s)); b != nil {
		return x509.ParseCertificate(b.Bytes)
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, errors.New("is neither a PEM certificate nor base64 DER")
	}
	return x509.ParseCertificate(der)
}
