package saml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"

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
