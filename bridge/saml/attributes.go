package saml

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	crewjam "github.com/crewjam/saml"
)

// attrNameFormat is the NameFormat of the attributes: the claim names as they are.
const attrNameFormat = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"

// Attributes turns an SP's claims (the claim policy's output for it) into SAML attributes, one
// per claim, sorted by name: a string or number is one value, a list one value per item, an
// object (a namespace claim) its JSON. The roles claim keeps only the SP's allowed roles when
// it names some.
func Attributes(claims map[string]any, allowedRoles []string) []crewjam.Attribute {
	names := make([]string, 0, len(claims))
	for k := range claims {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []crewjam.Attribute
	for _, name := range names {
		values := attrValues(claims[name])
		if name == "roles" && len(allowedRoles) > 0 {
			values = slices.DeleteFunc(values, func(v crewjam.AttributeValue) bool {
				return !slices.ContainsFunc(allowedRoles, func(a string) bool { return strings.EqualFold(a, v.Value) })
			})
		}
		if len(values) == 0 && name != "roles" {
			continue
		}
		out = append(out, crewjam.Attribute{Name: name, NameFormat: attrNameFormat, Values: values})
	}
	return out
}

func attrValues(v any) []crewjam.AttributeValue {
	str := func(s string) crewjam.AttributeValue { return crewjam.AttributeValue{Type: "xs:string", Value: s} }
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []crewjam.AttributeValue{str(x)}
	case bool:
		return []crewjam.AttributeValue{{Type: "xs:boolean", Value: fmt.Sprint(x)}}
	case []string:
		out := make([]crewjam.AttributeValue, 0, len(x))
		for _, s := range x {
			out = append(out, str(s))
		}
		return out
	case []any:
		out := make([]crewjam.AttributeValue, 0, len(x))
		for _, item := range x {
			out = append(out, attrValues(item)...)
		}
		return out
	case int, int32, int64, float64, float32, uint, uint64:
		return []crewjam.AttributeValue{str(fmt.Sprint(x))}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return []crewjam.AttributeValue{str(fmt.Sprint(v))}
	}
	return []crewjam.AttributeValue{str(string(b))}
}

// DefaultScopes are the scopes an SP's attributes come from when it names none.
var DefaultScopes = []string{"openid", "profile", "email", "membership", "roles"}
