package consumer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ssobridge/ssobridge/wire"
)

// This file is the PATCH of /Users/{id} (RFC 7644 3.5.2): "add", "replace" and "remove", with
// and without a path, applied in order to the stored user, all or none. The paths served are
// the attributes this app keeps (RFC 7644 3.10 attrPath and valuePath, attribute names
// case-insensitive, RFC 7643 2.1):
//
//	userName displayName active externalId (immutable: only its own value)
//	name name.formatted name.givenName name.familyName
//	emails photos roles, each with a value filter and sub-attribute:
//	  emails[type eq "work"].value, roles[value eq "Board"], emails[type eq "work" and primary eq true]
//	the membership extension, urn:ssobridge:params:scim:schemas:extension:membership:1.0:User[:attr]
//	and any of them prefixed by the core schema, urn:ietf:params:scim:schemas:core:2.0:User:userName
//
// Filters compare value, type or primary with eq (joined by "and"), ignoring case but for a
// photo's value (RFC 7643 8.7.1 caseExact); anything else is refused with 400 invalidFilter.
// A value made primary is the only primary one (RFC 7644 3.5.2). An unknown attribute in a path is 400 invalidPath; a filter that
// selects nothing in replace or remove, or a remove without a path, is 400 noTarget; a value of
// the wrong type is 400 invalidValue; a readOnly or immutable attribute changed is 400
// mutability (RFC 7644 3.5.2 and 3.12). Attributes this app does not keep are ignored in an
// operation without a path (its value an object of attributes), as Entra's and Okta's
// extension attributes would be. An attribute is unassigned by a remove with its path (RFC
// 7644 3.5.2.2), or by an empty array for a multi-valued one (RFC 7643 2.5); null is no value
// to add or replace with (RFC 7644 3.5.2.1 and 3.5.2.3 define none): an add or replace whose
// value holds null anywhere in an attribute this app keeps is 400 invalidValue, as a server
// that validates values answers (a null in an attribute it ignores is ignored with it).
// Removing active is 400 mutability: unassigned, it would read as a User received without it
// does, active, and so reactivate a member the IdP deactivated. Entra's "True"/"False" strings
// for active are read as booleans.

// patchError is a SCIM error (RFC 7644 3.12): 400 with a scimType, or status when not zero
// (409 uniqueness).
type patchError struct {
	scimType, detail string
	status           int
}

func (e *patchError) Error() string { return e.scimType + ": " + e.detail }

func perr(scimType, format string, args ...any) *patchError {
	return &patchError{scimType: scimType, detail: fmt.Sprintf(format, args...)}
}

// patchOp is one operation of a PatchOp request.
type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// scimPatchRequest is the body of a PATCH (RFC 7644 3.5.2).
type scimPatchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

const coreUserPrefix = wire.SchemaUser + ":"

// patchPath is a parsed path: attr (lower case, "membership" for the extension), an optional
// value filter of a multi-valued attribute, and an optional sub-attribute (lower case).
type patchPath struct {
	attr   string
	filter []filterTerm // nil: no filter
	sub    string
}

// filterTerm is `attr eq value` of a value filter.
type filterTerm struct {
	attr  string // value, type or primary
	value any    // string or bool
}

// multiValued names the attributes that are lists of wire.SCIMValue.
var multiValued = map[string]bool{"emails": true, "photos": true, "roles": true}

// nameSubs and membershipSubs are the sub-attributes of the complex attributes, by lower-case
// name.
var (
	nameSubs       = []string{"formatted", "givenname", "familyname"}
	membershipSubs = []string{"memberid", "membertype", "contactstatus", "membershipstatus", "membershipstanding",
		"company", "joindate", "paidthrough", "iscurrent"}
	valueSubs = []string{"value", "type", "primary"}
)

// parsePath parses a PATCH path (RFC 7644 3.10: attrPath / valuePath [subAttr]).
func parsePath(s string) (patchPath, *patchError) {
	raw := s
	var p patchPath
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, strings.ToLower(wire.SchemaMembership)):
		rest := s[len(wire.SchemaMembership):]
		p.attr = "membership"
		if rest == "" {
			return p, nil
		}
		if rest[0] != ':' || !knownSub(membershipSubs, rest[1:]) {
			return p, perr("invalidPath", "%q names no attribute of the membership extension", raw)
		}
		p.sub = strings.ToLower(rest[1:])
		return p, nil
	case strings.HasPrefix(lower, strings.ToLower(coreUserPrefix)):
		s = s[len(coreUserPrefix):]
	case strings.HasPrefix(lower, "urn:"):
		return p, perr("invalidPath", "%q: a schema this app does not keep", raw)
	}
	attr, rest := s, ""
	if i := strings.IndexAny(s, "[."); i >= 0 {
		attr, rest = s[:i], s[i:]
	}
	p.attr = strings.ToLower(attr)
	switch p.attr {
	case "username", "displayname", "active", "externalid", "name", "emails", "photos", "roles":
	case "groups", "id", "meta", "schemas":
		return p, perr("mutability", "%q is read-only", attr)
	default:
		return p, perr("invalidPath", "%q names no attribute this app keeps", raw)
	}
	if strings.HasPrefix(rest, "[") {
		if !multiValued[p.attr] {
			return p, perr("invalidPath", "%q: a filter on %s, which is not multi-valued", raw, attr)
		}
		end := strings.LastIndexByte(rest, ']')
		if end < 0 {
			return p, perr("invalidPath", "%q: the filter is not closed", raw)
		}
		terms, err := parseFilter(rest[1:end])
		if err != nil {
			return p, err
		}
		p.filter, rest = terms, rest[end+1:]
	}
	if rest != "" {
		sub, ok := strings.CutPrefix(rest, ".")
		subs := map[string][]string{"name": nameSubs, "emails": valueSubs, "photos": valueSubs, "roles": valueSubs}[p.attr]
		if !ok || !knownSub(subs, sub) {
			return p, perr("invalidPath", "%q names no attribute this app keeps", raw)
		}
		p.sub = strings.ToLower(sub)
	}
	if multiValued[p.attr] && p.sub != "" && p.filter == nil {
		return p, perr("invalidPath", "%q: a sub-attribute of %s needs a filter selecting its values", raw, attr)
	}
	return p, nil
}

func knownSub(subs []string, s string) bool {
	for _, x := range subs {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// parseFilter parses `attr eq value [and attr eq value]...` with attr value, type or primary.
func parseFilter(f string) ([]filterTerm, *patchError) {
	var terms []filterTerm
	rest := strings.TrimSpace(f)
	for {
		attr, r, ok := strings.Cut(rest, " ")
		if !ok || !knownSub(valueSubs, attr) {
			return nil, perr("invalidFilter", "filter %q: only value, type and primary compared with eq are supported", f)
		}
		r = strings.TrimLeft(r, " ")
		opName, r, ok := strings.Cut(r, " ")
		if !ok || !strings.EqualFold(opName, "eq") {
			return nil, perr("invalidFilter", "filter %q: only the eq operator is supported", f)
		}
		r = strings.TrimLeft(r, " ")
		var v any
		switch {
		case strings.HasPrefix(r, `"`):
			d := json.NewDecoder(strings.NewReader(r))
			var s string
			if err := d.Decode(&s); err != nil {
				return nil, perr("invalidFilter", "filter %q: a string that is not closed", f)
			}
			v, r = s, r[d.InputOffset():]
		default:
			word, after, _ := strings.Cut(r, " ")
			switch strings.ToLower(word) {
			case "true":
				v = true
			case "false":
				v = false
			default:
				return nil, perr("invalidFilter", "filter %q: a value must be a string, true or false", f)
			}
			r = " " + after
			if after == "" {
				r = ""
			}
		}
		terms = append(terms, filterTerm{attr: strings.ToLower(attr), value: v})
		r = strings.TrimSpace(r)
		if r == "" {
			return terms, nil
		}
		conj, after, ok := strings.Cut(r, " ")
		if !ok || !strings.EqualFold(conj, "and") {
			return nil, perr("invalidFilter", "filter %q: terms may only be joined by and", f)
		}
		rest = strings.TrimSpace(after)
	}
}

// caseExactValue reports whether the value sub-attribute of a multi-valued attribute is
// compared exactly (RFC 7643 8.7.1: photos' value is a reference, caseExact true; emails' and
// roles' are caseExact false, so eq ignores case, RFC 7644 3.4.2.2).
func caseExactValue(attr string) bool { return attr == "photos" }

func sameValue(attr, a, b string) bool {
	if caseExactValue(attr) {
		return a == b
	}
	return strings.EqualFold(a, b)
}

// matches reports whether v, a value of the multi-valued attribute attr, satisfies the term.
func (t filterTerm) matches(attr string, v wire.SCIMValue) bool {
	switch t.attr {
	case "value":
		s, ok := t.value.(string)
		return ok && sameValue(attr, s, v.Value)
	case "type":
		s, ok := t.value.(string)
		return ok && strings.EqualFold(s, v.Type)
	default: // primary
		b, ok := t.value.(bool)
		return ok && b == v.Primary
	}
}

func matchesAll(attr string, terms []filterTerm, v wire.SCIMValue) bool {
	for _, t := range terms {
		if !t.matches(attr, v) {
			return false
		}
	}
	return true
}

// isNull reports whether a value is absent or JSON null (RFC 7643 2.5: unassigned).
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// holdsNull reports whether a JSON value is null or holds null at any depth (an attribute or
// an element of an array).
func holdsNull(raw json.RawMessage) bool {
	if raw == nil {
		return false // no value at all: the operation's own check
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false // not JSON: the attribute's decoding refuses it
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case nil:
			return true
		case map[string]any:
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

func decodeString(raw json.RawMessage, what string) (string, *patchError) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", perr("invalidValue", "%s must be a string", what)
	}
	return s, nil
}

func decodeBool(raw json.RawMessage, what string) (bool, *patchError) {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil { // Entra's "True" and "False"
		if b, err := strconv.ParseBool(strings.ToLower(s)); err == nil {
			return b, nil
		}
	}
	return false, perr("invalidValue", "%s must be true or false", what)
}

// decodeObject reads a JSON object into its members by lower-case name. Attribute names are
// case-insensitive (RFC 7643 2.1), so one named twice in different cases is ambiguous: 400
// invalidSyntax rather than either value by map order.
func decodeObject(raw json.RawMessage, what string) (map[string]json.RawMessage, *patchError) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return nil, perr("invalidValue", "%s must be an object", what)
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		lk := strings.ToLower(k)
		if _, dup := out[lk]; dup {
			return nil, perr("invalidSyntax", "%s names %q more than once", what, lk)
		}
		out[lk] = v
	}
	return out, nil
}

// decodeValues reads a multi-valued attribute's value: an array of values, or one value (an
// object, or a bare string taken as its value).
func decodeValues(raw json.RawMessage, what string) ([]wire.SCIMValue, *patchError) {
	if isNull(raw) {
		return nil, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		list = []json.RawMessage{raw}
	}
	out := make([]wire.SCIMValue, 0, len(list))
	for _, item := range list {
		var v wire.SCIMValue
		if s, err := decodeString(item, what); err == nil {
			v.Value = s
		} else {
			m, err := decodeObject(item, what+" values")
			if err != nil {
				return nil, err
			}
			for k, x := range m {
				if err := setValueSub(&v, k, x, what); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func setValueSub(v *wire.SCIMValue, sub string, raw json.RawMessage, what string) *patchError {
	var err *patchError
	switch sub {
	case "value":
		v.Value, err = decodeString(raw, what+".value")
	case "type":
		v.Type, err = decodeString(raw, what+".type")
	case "primary":
		if isNull(raw) {
			v.Primary = false
		} else {
			v.Primary, err = decodeBool(raw, what+".primary")
		}
	}
	return err // other sub-attributes (display, $ref): not kept
}

// patchUser applies the operations to u in order; u is unchanged when one fails.
func patchUser(u *wire.SCIMUser, ops []patchOp) *patchError {
	next := cloneUser(*u)
	if len(ops) == 0 {
		return perr("invalidSyntax", "no Operations")
	}
	for i, op := range ops {
		kind := strings.ToLower(op.Op)
		if kind != "add" && kind != "replace" && kind != "remove" {
			return perr("invalidSyntax", "operation %d: op %q must be add, replace or remove", i, op.Op)
		}
		var err *patchError
		if kind != "remove" && op.Path != "" && holdsNull(op.Value) {
			err = perr("invalidValue", "null is no value to %s with: unassign an attribute by a remove with its path", kind)
		} else if op.Path == "" {
			err = applyNoPath(&next, kind, op.Value)
		} else {
			var p patchPath
			if p, err = parsePath(op.Path); err == nil {
				err = apply(&next, kind, p, op.Value)
			}
		}
		if err != nil {
			err.detail = fmt.Sprintf("operation %d (%s): %s", i, kind, err.detail)
			return err
		}
	}
	*u = next
	return nil
}

func cloneUser(u wire.SCIMUser) wire.SCIMUser {
	c := u
	if u.Name != nil {
		n := *u.Name
		c.Name = &n
	}
	if u.Active != nil {
		a := *u.Active
		c.Active = &a
	}
	if u.Membership != nil {
		m := *u.Membership
		c.Membership = &m
	}
	c.Emails = append([]wire.SCIMValue(nil), u.Emails...)
	c.Photos = append([]wire.SCIMValue(nil), u.Photos...)
	c.Roles = append([]wire.SCIMValue(nil), u.Roles...)
	return c
}

// applyNoPath is an operation without a path: its value is an object of attributes, each added
// or replaced as with its own path (RFC 7644 3.5.2.1, 3.5.2.3); a remove needs a path (3.5.2.2).
func applyNoPath(u *wire.SCIMUser, kind string, raw json.RawMessage) *patchError {
	if kind == "remove" {
		return perr("noTarget", "a remove needs a path")
	}
	m, err := decodeObject(raw, "the value of an operation without a path")
	if err != nil {
		return err
	}
	for k, v := range m {
		var p patchPath
		switch {
		case k == "schemas" || k == "meta" || k == "id" || k == "groups":
			continue // not changed by a PATCH; the resource's own are kept
		case k == strings.ToLower(wire.SchemaMembership):
			p.attr = "membership"
		case strings.HasPrefix(k, "urn:"):
			continue // another extension: not kept here
		default:
			var perr *patchError
			if p, perr = parsePath(k); perr != nil || p.filter != nil || p.sub != "" {
				continue // an attribute this app does not keep
			}
		}
		if holdsNull(v) { // checked per kept attribute: a null in one this app ignores is ignored with it
			return perr("invalidValue", "null is no value to %s %s with: unassign an attribute by a remove with its path", kind, k)
		}
		if err := apply(u, kind, p, v); err != nil {
			return err
		}
	}
	return nil
}

// apply is one operation on one path.
func apply(u *wire.SCIMUser, kind string, p patchPath, raw json.RawMessage) *patchError {
	if kind != "remove" && raw == nil {
		return perr("invalidValue", "%s needs a value", kind)
	}
	remove := kind == "remove" || (p.filter == nil && isNull(raw))
	switch p.attr {
	case "username":
		if remove {
			return perr("mutability", "userName is required")
		}
		s, err := decodeString(raw, "userName")
		if err == nil && s == "" {
			err = perr("invalidValue", "userName must not be empty")
		}
		u.UserName = s
		return err
	case "displayname":
		var err *patchError
		u.DisplayName = ""
		if !remove {
			u.DisplayName, err = decodeString(raw, "displayName")
		}
		return err
	case "externalid":
		s, err := decodeString(raw, "externalId")
		if remove || err != nil || s != u.ExternalID {
			return perr("mutability", "externalId is the member's subject: it cannot change")
		}
		return nil
	case "active":
		if remove {
			// Unassigned would read as active (wire.SCIMUser.User: a User received without it),
			// so a remove would reactivate a member the IdP deactivated: refused, fail closed.
			return perr("mutability", "active can be replaced with true or false, not removed")
		}
		b, err := decodeBool(raw, "active")
		u.Active = &b
		return err
	case "name":
		return applyComplex(kind, p.sub, raw, "name", func() bool { return u.Name != nil },
			func() { u.Name = &wire.SCIMName{} }, func() { u.Name = nil },
			func(sub string, v json.RawMessage) *patchError { return setNameSub(u.Name, sub, v) })
	case "membership":
		return applyComplex(kind, p.sub, raw, "membership", func() bool { return u.Membership != nil },
			func() { u.Membership = &wire.SCIMMembership{} }, func() { u.Membership = nil },
			func(sub string, v json.RawMessage) *patchError { return setMembershipSub(u.Membership, sub, v) })
	}
	list := map[string]*[]wire.SCIMValue{"emails": &u.Emails, "photos": &u.Photos, "roles": &u.Roles}[p.attr]
	return applyMulti(list, kind, p, raw)
}

// applyComplex changes a single complex attribute (name, membership): a remove unassigns it or
// one sub-attribute; add and replace set the sub-attributes given and leave the others (RFC
// 7644 3.5.2.1 and 3.5.2.3).
func applyComplex(kind, sub string, raw json.RawMessage, what string, has func() bool, create, clear func(),
	set func(sub string, v json.RawMessage) *patchError) *patchError {
	if sub == "" && (kind == "remove" || isNull(raw)) {
		clear()
		return nil
	}
	if !has() {
		if kind == "remove" {
			return nil
		}
		create()
	}
	if sub != "" {
		if kind == "remove" {
			raw = nil
		}
		return set(sub, raw)
	}
	m, err := decodeObject(raw, what)
	if err != nil {
		return err
	}
	for k, v := range m {
		if err := set(k, v); err != nil {
			return err
		}
	}
	return nil
}

func setNameSub(n *wire.SCIMName, sub string, raw json.RawMessage) *patchError {
	var err *patchError
	switch sub {
	case "formatted":
		n.Formatted, err = decodeString(raw, "name.formatted")
	case "givenname":
		n.GivenName, err = decodeString(raw, "name.givenName")
	case "familyname":
		n.FamilyName, err = decodeString(raw, "name.familyName")
	}
	return err
}

func setMembershipSub(m *wire.SCIMMembership, sub string, raw json.RawMessage) *patchError {
	var err *patchError
	field := map[string]*string{"memberid": &m.MemberID, "membertype": &m.MemberType, "contactstatus": &m.ContactStatus,
		"membershipstatus": &m.MembershipStatus, "membershipstanding": &m.Standing, "company": &m.Company,
		"joindate": &m.JoinDate, "paidthrough": &m.PaidThrough}[sub]
	switch {
	case field != nil:
		*field, err = decodeString(raw, "membership."+sub)
	case sub == "iscurrent":
		m.IsCurrent = false
		if !isNull(raw) {
			m.IsCurrent, err = decodeBool(raw, "membership.isCurrent")
		}
	}
	return err
}

// applyMulti changes a multi-valued attribute. Without a filter: add appends the values not
// there yet, replace replaces them all, remove removes them all. With a filter: replace and
// remove act on the values it selects (none: noTarget), on their sub-attribute when the path
// names one; add sets the sub-attribute of the values selected, or adds a value made of the
// filter's terms and it when none is (as Entra's add of emails[type eq "work"].value expects).
// A value an add or replace makes primary is the only primary one afterwards (RFC 7644 3.5.2:
// the others' primary is set to false); one operation making two values primary is 400
// invalidValue (RFC 7643 2.4: primary true appears no more than once).
func applyMulti(list *[]wire.SCIMValue, kind string, p patchPath, raw json.RawMessage) *patchError {
	var primary []int // the values this operation set primary true
	if err := applyMultiValues(list, kind, p, raw, &primary); err != nil {
		return err
	}
	switch {
	case len(primary) > 1:
		return perr("invalidValue", "%s: primary true on more than one value", p.attr)
	case len(primary) == 1:
		for i := range *list {
			if i != primary[0] {
				(*list)[i].Primary = false
			}
		}
	}
	return nil
}

// applyMultiValues is applyMulti's change, appending to primary the index of each value it
// sets primary true.
func applyMultiValues(list *[]wire.SCIMValue, kind string, p patchPath, raw json.RawMessage, primary *[]int) *patchError {
	if p.filter == nil {
		if kind == "remove" {
			*list = nil
			return nil
		}
		vals, err := decodeValues(raw, p.attr)
		if err != nil {
			return err
		}
		if kind == "replace" {
			*list = vals
			for i, v := range vals {
				if v.Primary {
					*primary = append(*primary, i)
				}
			}
			return nil
		}
		for _, v := range vals {
			i := indexValue(p.attr, *list, v)
			if i < 0 {
				i = len(*list)
				*list = append(*list, v)
			} else if v.Primary { // a value there already, now the primary one
				(*list)[i].Primary = true
			}
			if v.Primary {
				*primary = append(*primary, i)
			}
		}
		return nil
	}
	var hit []int
	for i, v := range *list {
		if matchesAll(p.attr, p.filter, v) {
			hit = append(hit, i)
		}
	}
	switch {
	case kind == "add" && p.sub == "":
		return perr("invalidPath", "an add to %s with a filter needs a sub-attribute", p.attr)
	case len(hit) == 0 && kind == "add":
		var v wire.SCIMValue
		for _, t := range p.filter {
			b, _ := json.Marshal(t.value)
			if err := setValueSub(&v, t.attr, b, p.attr); err != nil {
				return err
			}
		}
		if err := setValueSub(&v, p.sub, raw, p.attr); err != nil {
			return err
		}
		if v.Primary {
			*primary = append(*primary, len(*list))
		}
		*list = append(*list, v)
		return nil
	case len(hit) == 0:
		return perr("noTarget", "the filter of %s selects no value", p.attr)
	case kind == "remove" && p.sub == "":
		kept := (*list)[:0:0]
		for i, v := range *list {
			if !containsIndex(hit, i) {
				kept = append(kept, v)
			}
		}
		*list = kept
		return nil
	}
	if kind == "remove" {
		raw = nil
	}
	for _, i := range hit {
		if p.sub == "" { // replace the values selected
			vals, err := decodeValues(raw, p.attr)
			if err != nil {
				return err
			}
			if len(vals) != 1 {
				return perr("invalidValue", "a value selected in %s is replaced by one value", p.attr)
			}
			(*list)[i] = vals[0]
		} else if err := setValueSub(&(*list)[i], p.sub, raw, p.attr); err != nil {
			return err
		}
		if (p.sub == "" || p.sub == "primary") && (*list)[i].Primary {
			*primary = append(*primary, i)
		}
	}
	return nil
}

// indexValue is the index of v's value and type in list (the value compared as attr's
// caseExact says), or -1.
func indexValue(attr string, list []wire.SCIMValue, v wire.SCIMValue) int {
	for i, x := range list {
		if sameValue(attr, x.Value, v.Value) && strings.EqualFold(x.Type, v.Type) {
			return i
		}
	}
	return -1
}

func containsIndex(list []int, i int) bool {
	for _, x := range list {
		if x == i {
			return true
		}
	}
	return false
}

// scimPatchError answers a refused PATCH (RFC 7644 3.12).
func scimPatchError(w http.ResponseWriter, e *patchError) {
	status := e.status
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeSCIM(w, status, map[string]any{"schemas": []string{wire.SchemaError},
		"status": strconv.Itoa(status), "scimType": e.scimType, "detail": e.detail})
}
