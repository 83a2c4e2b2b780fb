package storecopy

import (
	"strings"
	"testing"
)

func TestSameTables(t *testing.T) {
	cols := func(n ...string) []column {
		var out []column
		for _, c := range n {
			out = append(out, column{name: c})
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		src, dst map[string][]column
		want     string // "" for none
	}{
		{"same", map[string][]column{"a": cols("x", "y")}, map[string][]column{"a": cols("y", "x")}, ""},
		{"source only", map[string][]column{"a": cols("x"), "mfa": cols("x")}, map[string][]column{"a": cols("x")},
			"table mfa has no counterpart in the target"},
		{"target only", map[string][]column{"a": cols("x")}, map[string][]column{"a": cols("x"), "b": cols("x")},
			"table b of the target has no counterpart in the source"},
		{"columns differ", map[string][]column{"a": cols("x", "z")}, map[string][]column{"a": cols("x")},
			"table a: source columns x,z, target columns x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := sameTables(tc.src, tc.dst)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestConvert(t *testing.T) {
	for _, tc := range []struct {
		v       any
		typ     string
		want    any
		wantErr bool
	}{
		{int64(1), "boolean", true, false},
		{int64(0), "boolean", false, false},
		{"x", "boolean", nil, true},
		{"abc", "bytea", []byte("abc"), false},
		{[]byte("abc"), "text", "abc", false},
		{int64(7), "bigint", int64(7), false},
		{1.5, "bigint", nil, true},
		{nil, "text", nil, false},
	} {
		got, err := convert(tc.v, tc.typ)
		if (err != nil) != tc.wantErr {
			t.Fatalf("convert(%v, %s): error %v", tc.v, tc.typ, err)
		}
		if b, ok := got.([]byte); ok {
			got = string(b)
			tc.want = string(tc.want.([]byte))
		}
		if !tc.wantErr && got != tc.want {
			t.Fatalf("convert(%v, %s) = %v, want %v", tc.v, tc.typ, got, tc.want)
		}
	}
}
