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

	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
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

// Describe names what the bridge uses of an SP's metadata, for an operator comparing two
// versions (ssobridge saml refresh): its certificates (the first 8 bytes of each one's
// SHA-256, hex), its assertion consumer services and its single logout services.
func Describe(sp *SP) []string {
	var certs []string
	acs, slo := 0, 0
	for _, d := range sp.Metadata.SPSSODescriptors {
		for _, k := range d.KeyDescriptors {
			for _, c := range k.KeyInfo.X509Data.X509Certificates {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c.Data), ""))
				fp := "unreadable"
				if err == nil {
					sum := sha256.Sum256(der)
					fp = hex.EncodeToString(sum[:8])
				}
				use := k.Use
				if use == "" {
					use = "signing"
				}
				if s := use + " " + fp; !slices.Contains(certs, s) {
					certs = append(certs, s)
				}
			}
		}
		acs += len(d.AssertionConsumerServices)
		slo += len(d.SingleLogoutServices)
	}
	out := []string{fmt.Sprintf("certificates: %s", strings.Join(certs, " "))}
	if len(certs) == 0 {
		out[0] = "no certificates"
	}
	return append(out, fmt.Sprintf("%d assertion consumer services", acs), fmt.Sprintf("%d single logout services", slo))
}
