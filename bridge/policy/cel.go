package policy

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/ssobridge/ssobridge/legacy"
)

// memberTypeName is the CEL type of the member variable.
const memberTypeName = "ssobridge.Member"

// costLimit bounds the work of one evaluation (CEL cost units: about one per operation and
// per list element visited). Policies are written by administrators, so this only stops a
// mistake such as a nested comprehension over a huge list from stalling sign-ins.
const costLimit = 100_000

// memberField is one field of the member variable. The AMS key is deliberately not one.
type memberField struct {
	typ *types.Type
	get func(v *memberVal) ref.Val
	set func(v *memberVal) bool // presence, for has(member.field)
}

func stringField(f func(m *legacy.Member) string) memberField {
	return memberField{
		typ: types.StringType,
		get: func(v *memberVal) ref.Val { return types.String(f(v.m)) },
		set: func(v *memberVal) bool { return f(v.m) != "" },
	}
}

func timeField(f func(m *legacy.Member) time.Time) memberField {
	return memberField{
		typ: types.TimestampType,
		// A zero time is 0001-01-01T00:00:00Z, CEL's earliest timestamp: unknown dates compare
		// as long past, so "member.paid_thru >= now" is false for them.
		get: func(v *memberVal) ref.Val { return types.Timestamp{Time: f(v.m)} },
		set: func(v *memberVal) bool { return !f(v.m).IsZero() },
	}
}

// memberFields are the member variable's fields, by name (read-only after initialisation).
var memberFields = map[string]memberField{
	"subject": {
		typ: types.StringType,
		get: func(v *memberVal) ref.Val { return types.String(v.subject) },
		set: func(v *memberVal) bool { return v.subject != "" },
	},
	"member_id":     stringField(func(m *legacy.Member) string { return m.MemberID }),
	"login":         stringField(func(m *legacy.Member) string { return m.Login }),
	"email":         stringField(func(m *legacy.Member) string { return m.Email }),
	"given_name":    stringField(func(m *legacy.Member) string { return m.GivenName }),
	"family_name":   stringField(func(m *legacy.Member) string { return m.FamilyName }),
	"name":          stringField(func(m *legacy.Member) string { return m.FullName }),
	"company":       stringField(func(m *legacy.Member) string { return m.Company }),
	"member_type":   stringField(func(m *legacy.Member) string { return m.MemberType }),
	"status":        stringField(func(m *legacy.Member) string { return m.Status }),
	"join_date":     timeField(func(m *legacy.Member) time.Time { return m.JoinDate }),
	"paid_thru":     timeField(func(m *legacy.Member) time.Time { return m.PaidThrough }),
	"member_status": stringField(func(m *legacy.Member) string { return m.MemberStatus }),
	"member_record": {
		typ: types.BoolType,
		get: func(v *memberVal) ref.Val { return types.Bool(v.m.MemberRecord) },
		set: func(*memberVal) bool { return true },
	},
	"staff": {
		typ: types.BoolType,
		get: func(v *memberVal) ref.Val { return types.Bool(v.m.Staff) },
		set: func(*memberVal) bool { return true },
	},
	"is_current": {
		typ: types.BoolType,
		get: func(v *memberVal) ref.Val { return types.Bool(v.standing().Current()) },
		set: func(*memberVal) bool { return true },
	},
	"standing": {
		typ: types.StringType,
		get: func(v *memberVal) ref.Val { return types.String(v.standing().Standing) },
		set: func(*memberVal) bool { return true },
	},
	"roles": {
		typ: types.NewListType(types.StringType),
		get: func(v *memberVal) ref.Val { return types.NewStringList(types.DefaultTypeAdapter, v.m.Roles) },
		set: func(v *memberVal) bool { return len(v.m.Roles) > 0 },
	},
	"extra": {
		typ: types.NewMapType(types.StringType, types.StringType),
		get: func(v *memberVal) ref.Val { return types.NewStringStringMap(types.DefaultTypeAdapter, v.extra()) },
		set: func(v *memberVal) bool { return len(v.extra()) > 0 },
	},
}

// memberFieldNames lists memberFields' keys, sorted.
var memberFieldNames = func() []string {
	names := make([]string, 0, len(memberFields))
	for k := range memberFields {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}()

// memberFieldTypes are the checker's and planner's view of memberFields.
var memberFieldTypes = func() map[string]*types.FieldType {
	out := make(map[string]*types.FieldType, len(memberFields))
	for name, f := range memberFields {
		out[name] = &types.FieldType{
			Type: f.typ,
			IsSet: func(obj any) bool {
				v, ok := obj.(*memberVal)
				return ok && f.set(v)
			},
			GetFrom: func(obj any) (any, error) {
				v, ok := obj.(*memberVal)
				if !ok {
					return nil, fmt.Errorf("%s: not a member (%T)", name, obj)
				}
				return f.get(v), nil
			},
		}
	}
	return out
}()

// memberCELType is the runtime type of member values.
var memberCELType = types.NewObjectType(memberTypeName, traits.FieldTesterType|traits.IndexerType)

// memberType declares ssobridge.Member to the CEL environment (a ref.Type and a
// types.StructTypeDescriptor). Values cannot be created in expressions.
type memberType struct{}

var (
	_ ref.Type                   = memberType{}
	_ types.StructTypeDescriptor = memberType{}
)

func (memberType) HasTrait(t int) bool       { return memberCELType.HasTrait(t) }
func (memberType) TypeName() string          { return memberTypeName }
func (memberType) ReflectType() reflect.Type { return reflect.TypeFor[*memberVal]() }
func (memberType) FieldNames() []string      { return slices.Clone(memberFieldNames) }
func (memberType) NewValue(types.Adapter, map[string]ref.Val) ref.Val {
	return types.NewErr("%s values cannot be created in expressions", memberTypeName)
}
func (memberType) FindFieldType(name string) (*types.FieldType, bool) {
	ft, ok := memberFieldTypes[name]
	return ft, ok
}
func (memberType) Adapt(_ types.Adapter, value any) ref.Val {
	if v, ok := value.(*memberVal); ok {
		return v
	}
	return types.NewErr("cannot adapt %T to %s", value, memberTypeName)
}

// memberVal is the member variable: a view of a legacy.Member that computes fields on access.
type memberVal struct {
	m         *legacy.Member
	subject   string
	now       time.Time
	extraCols []string // configured extra columns, always present in extra
	extraMap  map[string]string
	// membership is the member's standing under the engine's rule (the built-in one inside
	// the standing rule itself).
	membership func() legacy.Membership
}

var (
	_ ref.Val            = (*memberVal)(nil)
	_ traits.Indexer     = (*memberVal)(nil)
	_ traits.FieldTester = (*memberVal)(nil)
)

// standing is the member's membership standing.
func (v *memberVal) standing() legacy.Membership {
	if v.membership == nil {
		return v.m.MembershipAt(v.now, 0)
	}
	return v.membership()
}

// extra returns Member.Extra with every configured column present (copying only when the
// AMS left one out), so that member.extra["chapter"] is "" rather than an error.
func (v *memberVal) extra() map[string]string {
	if v.extraMap != nil {
		return v.extraMap
	}
	out := v.m.Extra
	for _, c := range v.extraCols {
		if _, ok := out[c]; !ok {
			out = make(map[string]string, len(v.m.Extra)+len(v.extraCols))
			for k, x := range v.m.Extra {
				out[k] = x
			}
			for _, c := range v.extraCols {
				if _, ok := out[c]; !ok {
					out[c] = ""
				}
			}
			break
		}
	}
	if out == nil {
		out = map[string]string{}
	}
	v.extraMap = out
	return out
}

func (v *memberVal) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("%s cannot be converted to %v", memberTypeName, t)
}

func (v *memberVal) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return memberCELType
	}
	return types.NewErr("type conversion error from %s to %s", memberTypeName, t.TypeName())
}

func (v *memberVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(*memberVal)
	return types.Bool(ok && o == v)
}

func (v *memberVal) Type() ref.Type { return memberCELType }
func (v *memberVal) Value() any     { return v }

// Get and IsSet serve field access when the planner did not resolve the field statically
// (dyn(member).email).
func (v *memberVal) Get(index ref.Val) ref.Val {
	name, ok := index.(types.String)
	if !ok {
		return types.ValOrErr(index, "no such overload")
	}
	f, ok := memberFields[string(name)]
	if !ok {
		return types.NewErr("no such field: %s", name)
	}
	return f.get(v)
}

func (v *memberVal) IsSet(field ref.Val) ref.Val {
	name, ok := field.(types.String)
	if !ok {
		return types.ValOrErr(field, "no such overload")
	}
	f, ok := memberFields[string(name)]
	if !ok {
		return types.NewErr("no such field: %s", name)
	}
	return types.Bool(f.set(v))
}

// activation binds the variables of one evaluation without allocating a map.
type activation struct {
	member   memberVal
	now      types.Timestamp
	clientID types.String
}

var _ interpreter.Activation = (*activation)(nil)

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "member":
		return &a.member, true
	case "now":
		return a.now, true
	case "client_id":
		return a.clientID, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// newEnv returns the CEL environment every expression is compiled in.
func newEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Types(memberType{}),
		cel.Variable("member", cel.ObjectType(memberTypeName)),
		cel.Variable("now", cel.TimestampType),
		cel.Variable("client_id", cel.StringType),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Sets(),
	)
}

// compileExpr parses, type-checks and plans one expression. want, when not nil, is the only
// result type accepted; otherwise the result must be convertible to JSON.
func compileExpr(env *cel.Env, src string, want *cel.Type) (cel.Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty expression")
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, errors.New(iss.String())
	}
	out := ast.OutputType()
	if want != nil {
		if !out.IsExactType(want) {
			return nil, fmt.Errorf("must be of type %s, not %s", want, out)
		}
	} else if err := jsonType(out); err != nil {
		return nil, err
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(costLimit))
	if err != nil {
		return nil, err
	}
	return prg, nil
}

// jsonType accepts the result types a claim can carry.
func jsonType(t *cel.Type) error {
	switch t.Kind() {
	case types.BoolKind, types.IntKind, types.UintKind, types.DoubleKind, types.StringKind,
		types.TimestampKind, types.NullTypeKind, types.DynKind, types.AnyKind:
		return nil
	case types.ListKind:
		return jsonType(t.Parameters()[0])
	case types.MapKind:
		if k := t.Parameters()[0].Kind(); k != types.StringKind && k != types.DynKind {
			return fmt.Errorf("a claim's map must have string keys, not %s", t)
		}
		return jsonType(t.Parameters()[1])
	case types.DurationKind:
		return fmt.Errorf("a claim cannot be a duration (%s): convert it, e.g. int(d) / 1000000000 for seconds or string(d)", t)
	case types.OpaqueKind:
		if t.TypeName() == "optional_type" {
			return fmt.Errorf("a claim cannot be an optional (%s): end it with .orValue(...)", t)
		}
	}
	return fmt.Errorf("a claim cannot be of type %s", t)
}

// claimValue converts a CEL result to a JSON-ready Go value. ok is false for null and "".
func claimValue(v ref.Val) (any, bool, error) {
	switch x := v.(type) {
	case types.Null:
		return nil, false, nil
	case types.String:
		return string(x), x != "", nil
	}
	out, err := jsonValue(v, 0)
	return out, err == nil, err
}

// jsonValue converts a CEL value to a Go value encoding/json writes faithfully. Timestamps
// become RFC 3339 strings in UTC.
func jsonValue(v ref.Val, depth int) (any, error) {
	if depth > 32 {
		return nil, errors.New("value nested too deeply")
	}
	switch x := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(x), nil
	case types.String:
		return string(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return uint64(x), nil
	case types.Double:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("%v is not a JSON number", float64(x))
		}
		return float64(x), nil
	case types.Timestamp:
		return x.UTC().Format(time.RFC3339Nano), nil
	case *types.Err:
		return nil, x
	case traits.Mapper:
		out := map[string]any{}
		for it := x.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			ks, ok := k.(types.String)
			if !ok {
				return nil, fmt.Errorf("map key %v is not a string", k)
			}
			e, err := jsonValue(x.Get(k), depth+1)
			if err != nil {
				return nil, err
			}
			out[string(ks)] = e
		}
		return out, nil
	case traits.Lister:
		n, ok := x.Size().(types.Int)
		if !ok {
			return nil, errors.New("list without a size")
		}
		out := make([]any, 0, int(n))
		for it := x.Iterator(); it.HasNext() == types.True; {
			e, err := jsonValue(it.Next(), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
	return nil, fmt.Errorf("a claim cannot be of type %s", v.Type().TypeName())
}
