package web

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/labstack/echo/v4"
)

// Prepared is a page rendered once with slots that each request fills with its own values (the
// login page: its CSRF token and request id), so the template runs once instead of per request.
// A value goes into the page as it is: only values that no escaping changes are taken (letters,
// digits, '-' and '_': base64url tokens); for any other the caller renders the page.
type Prepared struct {
	name  string
	parts [][]byte // the page cut at its slots: parts[0], value of slots[0], parts[1], ...
	slots []int    // the value that follows parts[i]
	size  int      // the bytes of the parts
}

// Slot is a placeholder that stands for a value in the data given to Prepare: a random string
// of letters and digits (which no escaping changes), different for each call.
func Slot() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "slot" + hex.EncodeToString(b[:])
}

// Prepare renders page name with data, where slots (from Slot) stand for values given later
// to RenderPrepared in the same order. Each slot must appear in the page.
func (r *Renderer) Prepare(name string, data any, slots ...string) (*Prepared, error) {
	t, ok := r.tmpl[name]
	if !ok {
		return nil, fmt.Errorf("prepare %s: no such page", name)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("prepare %s: %w", name, err)
	}
	page := buf.Bytes()
	p := &Prepared{name: name}
	seen := make([]bool, len(slots))
	for {
		at, which := -1, -1
		for i, s := range slots {
			if j := bytes.Index(page, []byte(s)); j >= 0 && (at < 0 || j < at) {
				at, which = j, i
			}
		}
		if at < 0 {
			break
		}
		p.parts = append(p.parts, bytes.Clone(page[:at]))
		p.slots = append(p.slots, which)
		seen[which] = true
		page = page[at+len(slots[which]):]
	}
	p.parts = append(p.parts, bytes.Clone(page))
	for i, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("prepare %s: slot %d is not in the page", name, i)
		}
	}
	for _, part := range p.parts {
		p.size += len(part)
	}
	return p, nil
}

// RenderPrepared writes p with values in its slots (never cached by the browser, as Render).
// It writes nothing and returns false when a value is not one that goes in as it is.
func (r *Renderer) RenderPrepared(c echo.Context, status int, p *Prepared, values ...string) (bool, error) {
	for _, v := range values {
		if !plainValue(v) {
			return false, nil
		}
	}
	size := p.size
	for _, s := range p.slots {
		if s >= len(values) {
			return false, fmt.Errorf("render %s: no value for slot %d", p.name, s)
		}
		size += len(values[s])
	}
	buf, _ := r.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer func() {
		if buf.Cap() <= maxPooledPage {
			buf.Reset()
			r.bufs.Put(buf)
		}
	}()
	buf.Grow(size)
	for i, part := range p.parts {
		buf.Write(part)
		if i < len(p.slots) {
			buf.WriteString(values[p.slots[i]])
		}
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return true, c.HTMLBlob(status, buf.Bytes())
}

// plainValue reports whether v is made of letters, digits, '-' and '_' only (what no HTML,
// attribute, URL or script escaping changes).
func plainValue(v string) bool {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
