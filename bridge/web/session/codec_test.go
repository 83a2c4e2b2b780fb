package session

import (
	"bytes"
	"encoding/gob"
	"maps"
	"strings"
	"testing"

	"github.com/gorilla/securecookie"
)

func gobEncode(t testing.TB, m map[interface{}]interface{}) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gobDecode(b []byte) (map[interface{}]interface{}, error) {
	var m map[interface{}]interface{}
	err := gob.NewDecoder(bytes.NewReader(b)).Decode(&m)
	return m, err
}

// TestGobStringsIsGob: what gobStrings writes is what gob writes (gob reads it back, byte for
// byte the same for one value), and gobStrings reads what gob writes, so cookies keep working
// across versions and replicas.
func TestGobStringsIsGob(t *testing.T) {
	for _, m := range []map[interface{}]interface{}{
		{},
		{"bid": "x"},
		{"bid": ""},
		{"": "empty key"},
		{"bid": strings.Repeat("a", 127)},
		{"sid": strings.Repeat("b", 128)},
		{"abk": strings.Repeat("c", 300)},
		{"pending": strings.Repeat("d", 70000)},
		{"bid": "Zoë ünïcödé", "sid": "0123456789abcdef0123456789abcdef0123456789a", "abk": "nonce", "pending": "request-id"},
	} {
		ours, err := gobStrings{}.Serialize(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := gobDecode(ours)
		if err != nil || !maps.Equal(back, m) {
			t.Errorf("gob reads our %v as %v (%v)", m, back, err)
		}
		theirs := gobEncode(t, m)
		if len(m) <= 1 && strings.HasPrefix(string(theirs), gobMapType) && !bytes.Equal(ours, theirs) {
			t.Errorf("%v: ours %q, gob's %q", m, ours, theirs)
		}
		got := map[interface{}]interface{}{}
		if err := (gobStrings{}).Deserialize(theirs, &got); err != nil || !maps.Equal(got, m) {
			t.Errorf("we read gob's %v as %v (%v)", m, got, err)
		}
		if _, err := parseStrings(ours); err != nil {
			t.Errorf("our own %v not parsed: %v", m, err)
		}
	}
	// Anything but a map of strings is gob's business, both ways.
	other := map[interface{}]interface{}{"n": 42, "s": "x"}
	b, err := gobStrings{}.Serialize(other)
	if err != nil {
		t.Fatal(err)
	}
	got := map[interface{}]interface{}{}
	if err := (gobStrings{}).Deserialize(b, &got); err != nil || !maps.Equal(got, other) {
		t.Errorf("non-string values: %v (%v)", got, err)
	}
	if err := (gobStrings{}).Deserialize([]byte("not gob"), &got); err == nil {
		t.Error("garbage decoded")
	}
}

// FuzzGobStrings: reading never panics, and whatever gobStrings parses itself gob parses the
// same way.
func FuzzGobStrings(f *testing.F) {
	for _, m := range []map[interface{}]interface{}{{}, {"bid": "x"}, {"bid": "x", "sid": strings.Repeat("y", 200)}} {
		b, _ := gobStrings{}.Serialize(m)
		f.Add(b)
		f.Add(gobEncode(f, m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := map[interface{}]interface{}{}
		_ = (gobStrings{}).Deserialize(b, &got)
		m, err := parseStrings(b)
		if err != nil {
			return
		}
		want, err := gobDecode(b)
		if err != nil {
			t.Fatalf("we parse %q as %v, gob refuses it: %v", b, m, err)
		}
		if len(want) != len(m) {
			t.Fatalf("we parse %q as %v, gob as %v", b, m, want)
		}
		for k, v := range m {
			if want[k] != v {
				t.Fatalf("we parse %q as %v, gob as %v", b, m, want)
			}
		}
	})
}

// BenchmarkCookieValues is the serialization of a signed-in browser's cookie values, written
// and read once, by gob (what securecookie did) and by gobStrings.
func BenchmarkCookieValues(b *testing.B) {
	m := map[interface{}]interface{}{"bid": strings.Repeat("b", 43), "sid": strings.Repeat("s", 43), "abk": strings.Repeat("a", 43)}
	for _, c := range []struct {
		name string
		s    interface {
			Serialize(interface{}) ([]byte, error)
			Deserialize([]byte, interface{}) error
		}
	}{{"gob", securecookie.GobEncoder{}}, {"gobStrings", gobStrings{}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf, err := c.s.Serialize(m)
				if err != nil {
					b.Fatal(err)
				}
				got := map[interface{}]interface{}{}
				if err := c.s.Deserialize(buf, &got); err != nil || len(got) != 3 {
					b.Fatal(got, err)
				}
			}
		})
	}
}
