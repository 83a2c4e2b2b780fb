package saml

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/ssobridge/ssobridge/bridge/config"
)

// parseSPMetadata reads an SP's metadata: an EntityDescriptor, or an EntitiesDescriptor holding
// exactly one EntityDescriptor with an SPSSODescriptor (nested EntitiesDescriptors included).
// Taken out of an EntitiesDescriptor, the entity's validUntil is the earliest of its own and
// of every EntitiesDescriptor enclosing it, and its cacheDuration the shortest (SAML metadata
// 2.0 section 2.3.1: validUntil "indicates the expiration time of the metadata contained in
// the element and any contained elements"; section 4.3.1: the parent's caching policy takes
// precedence). The library's ParseMetadata takes an entity out of an EntitiesDescriptor only
// when it is an IdP's, so SP metadata in one was refused as "no entity found with
// IDPSSODescriptor"; its ParseMetadataByEntityID carries the enclosing validity down.
func parseSPMetadata(metadata []byte) (*crewjam.EntityDescriptor, error) {
	root, err := rootElement(metadata)
	if err != nil {
		return nil, err
	}
	if root.Local != "EntitiesDescriptor" {
		return samlsp.ParseMetadata(metadata)
	}
	var all crewjam.EntitiesDescriptor
	if err := xml.Unmarshal(metadata, &all); err != nil {
		return nil, err
	}
	ids := spEntityIDs(&all, nil)
	switch len(ids) {
	case 0:
		return nil, errors.New("the EntitiesDescriptor holds no EntityDescriptor with an SPSSODescriptor")
	case 1:
	default:
		return nil, fmt.Errorf("the EntitiesDescriptor holds %d SPs (%s, ...); give the metadata of the one to register", len(ids), ids[0])
	}
	return samlsp.ParseMetadataByEntityID(metadata, ids[0])
}

// spEntityIDs appends to ids the entity ids of the EntityDescriptors with an SPSSODescriptor in
// entities and in the EntitiesDescriptors nested in it.
func spEntityIDs(entities *crewjam.EntitiesDescriptor, ids []string) []string {
	for _, e := range entities.EntityDescriptors {
		if len(e.SPSSODescriptors) > 0 {
			ids = append(ids, e.EntityID)
		}
	}
	for i := range entities.EntitiesDescriptors {
		ids = spEntityIDs(&entities.EntitiesDescriptors[i], ids)
	}
	return ids
}

// rootElement is the name of the document's first element.
func rootElement(data []byte) (xml.Name, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.Name{}, err
		}
		if start, ok := tok.(xml.StartElement); ok {
			return start.Name, nil
		}
	}
}

// Summary is what the bridge uses of an SP's metadata, for an operator comparing two versions
// (ssobridge saml refresh): its certificates by use (the first 8 bytes of each one's SHA-256,
// hex), its assertion consumer and single logout services (binding and location), the NameID
// formats it lists and its validUntil. Summarize reads it from the metadata as the SP publishes
// it (an SP's built Metadata leaves out the encryption certificates it does not use).
type Summary struct {
	Signing, Encryption []string
	ACS, SLO            []string
	NameIDFormats       []string
	ValidUntil          time.Time
}

// Summarize is the summary of an SP's metadata. A certificate without a use serves both.
func Summarize(md *crewjam.EntityDescriptor) Summary {
	var s Summary
	add := func(list *[]string, v string) {
		if !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	for _, d := range md.SPSSODescriptors {
		for _, k := range d.KeyDescriptors {
			for _, c := range k.KeyInfo.X509Data.X509Certificates {
				fp := "unreadable"
				if der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c.Data), "")); err == nil {
					sum := sha256.Sum256(der)
					fp = hex.EncodeToString(sum[:8])
				}
				if k.Use == "signing" || k.Use == "" {
					add(&s.Signing, fp)
				}
				if k.Use == "encryption" || k.Use == "" {
					add(&s.Encryption, fp)
				}
			}
		}
		for _, ep := range d.AssertionConsumerServices {
			add(&s.ACS, bindingName(ep.Binding)+" "+ep.Location)
		}
		for _, ep := range d.SingleLogoutServices {
			add(&s.SLO, bindingName(ep.Binding)+" "+ep.Location)
		}
		for _, f := range d.NameIDFormats {
			add(&s.NameIDFormats, string(f))
		}
	}
	s.ValidUntil = ValidUntil(md)
	return s
}

// bindingName is a binding's last part (HTTP-POST, HTTP-Redirect, SOAP...).
func bindingName(b string) string { return b[strings.LastIndex(b, ":")+1:] }

// Lines says what s holds, one aspect a line ("signing certificates: ..."), each compared with
// was when given: "(unchanged)" or "(was ...)"; changed names the aspects that differ.
func (s Summary) Lines(was *Summary) (lines, changed []string) {
	var w Summary
	if was != nil {
		w = *was
	}
	line := func(name string, now, before []string) {
		show := func(v []string) string {
			if len(v) == 0 {
				return "none"
			}
			return strings.Join(v, ", ")
		}
		l := name + ": " + show(now)
		if was != nil {
			if slices.Equal(sorted(now), sorted(before)) {
				l += " (unchanged)"
			} else {
				l += " (was " + show(before) + ")"
				changed = append(changed, name)
			}
		}
		lines = append(lines, l)
	}
	until := func(t time.Time) []string {
		if t.IsZero() {
			return nil
		}
		return []string{t.UTC().Format(time.RFC3339)}
	}
	line("signing certificates", s.Signing, w.Signing)
	line("encryption certificates", s.Encryption, w.Encryption)
	line("assertion consumer services", s.ACS, w.ACS)
	line("single logout services", s.SLO, w.SLO)
	line("NameID formats listed", s.NameIDFormats, w.NameIDFormats)
	line("validUntil", until(s.ValidUntil), until(w.ValidUntil))
	return lines, changed
}

// NameIDNote warns, for ssobridge saml refresh, when the SP's metadata (its summary s) lists
// NameID formats of which none is one the bridge sends it: its name_id_format (persistent
// unless email was asked at registration; never taken from the metadata, so a refresh does not
// change it), or transient when its AuthnRequest asks for it. "" when there is nothing to say.
func NameIDNote(sp *SP, s Summary) string {
	sent := string(crewjam.PersistentNameIDFormat)
	if sp.Settings.NameIDFormat == config.SAMLNameIDEmail {
		sent = string(crewjam.EmailAddressNameIDFormat)
	}
	if len(s.NameIDFormats) == 0 || slices.ContainsFunc(s.NameIDFormats, func(f string) bool {
		return f == sent || f == string(crewjam.TransientNameIDFormat) || f == string(crewjam.UnspecifiedNameIDFormat)
	}) {
		return ""
	}
	return fmt.Sprintf("its metadata lists the NameID formats %s, but it is sent %s: its name_id_format, set at registration and not taken from the metadata, so refresh does not change it (to change it: ssobridge saml set %s --name-id-format ...)",
		strings.Join(s.NameIDFormats, ", "), sent, sp.Settings.ID)
}

func sorted(v []string) []string { v = slices.Clone(v); slices.Sort(v); return v }
