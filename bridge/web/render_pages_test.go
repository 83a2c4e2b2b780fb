package web

import (
	"bytes"
	"html/template"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"text/template/parse"

	"github.com/ssobridge/ssobridge/templates"
)

// TestPagesRenderAsParsedAlone: every page, rendered by the Renderer (one template set for
// all pages: the layout and partials parsed and escaped once), is byte for byte the page
// parsed alone with the layout and the partials (as each page was before), for data that
// takes each branch both ways: no fields (every if false, every range empty), every field
// set (every if true, every range two elements) to a value that each escaping context
// (text, attribute, URL, script) changes, and each literal an eq compares a field with.
func TestPagesRenderAsParsedAlone(t *testing.T) {
	r, err := NewRenderer(Brand{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range pageNames {
		alone, err := template.ParseFS(templates.FS, "layout.html", "partial_*.html", name+".html")
		if err != nil {
			t.Fatal(err)
		}
		variants := pageVariants(alone, name+".html")
		for i, data := range variants {
			var want, got bytes.Buffer
			if err := alone.ExecuteTemplate(&want, name+".html", data); err != nil {
				t.Fatalf("%s (variant %d) parsed alone: %v", name, i, err)
			}
			if err := r.tmpl[name].Execute(&got, data); err != nil {
				t.Fatalf("%s (variant %d): %v", name, i, err)
			}
			if got.String() != want.String() {
				t.Errorf("%s (variant %d) differs from the page parsed alone:\n got %q\nwant %q", name, i, got.String(), want.String())
			}
		}
		// The full variant reaches the page's fields (the data is not silently empty).
		var full bytes.Buffer
		_ = r.tmpl[name].Execute(&full, variants[1])
		if !strings.Contains(full.String(), "&lt;b&gt;") && !strings.Contains(full.String(), `\u003cb\u003e`) && !strings.Contains(full.String(), "%3cb%3e") {
			t.Errorf("%s: no field of the full variant was rendered", name)
		}
	}
}

// TestRendererRefusesRedefinition: a page that defines a template the layout, a partial or
// another page defines is refused (in one set it would replace it for every page).
func TestRendererRefusesRedefinition(t *testing.T) {
	files := fstest.MapFS{}
	err := fs.WalkDir(templates.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templates.FS, path)
		files[path] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newRenderer(Brand{}, files); err != nil {
		t.Fatalf("the embedded templates: %v", err)
	}
	// A template of its own, defined by one page only, is taken.
	own := fstest.MapFS{}
	for k, v := range files {
		own[k] = v
	}
	own["security.html"] = &fstest.MapFile{Data: append(bytes.Clone(files["security.html"].Data), `{{define "extra"}}x{{end}}`...)}
	if _, err := newRenderer(Brand{}, own); err != nil {
		t.Fatalf("a page with a template of its own: %v", err)
	}
	for _, tc := range []struct{ file, add string }{
		{"home.html", `{{define "head"}}<html>{{end}}`},
		{"error.html", `{{define "upstream_buttons"}}x{{end}}`},
		{"mfa.html", `{{define "login.html"}}x{{end}}`},
		{"account.html", `{{define "extra"}}y{{end}}`}, // and security.html (below), parsed after it
	} {
		changed := fstest.MapFS{}
		for k, v := range files {
			changed[k] = v
		}
		changed[tc.file] = &fstest.MapFile{Data: append(bytes.Clone(files[tc.file].Data), tc.add...)}
		if tc.file == "account.html" {
			changed["security.html"] = &fstest.MapFile{Data: append(bytes.Clone(files["security.html"].Data), `{{define "extra"}}x{{end}}`...)}
		}
		if _, err := newRenderer(Brand{}, changed); err == nil {
			t.Errorf("%s defining %s: accepted", tc.file, tc.add)
		}
	}
}

// trickyValue is changed by every escaping context the pages use; trickyURL is a URL that
// URL attributes keep (trickyValue's javascript: is replaced), with characters they escape.
const (
	trickyValue = `x<b>"'&amp; javascript:alert(1)</b> =?#/`
	trickyURL   = `https://example.org/a b/<c>?q="'&r=ü#f`
)

// pageVariants are data for page (a template of set) that take its branches: none of its
// fields, all of them (two values), and each literal an eq compares a field with.
func pageVariants(set *template.Template, page string) []map[string]any {
	s := &shaper{set: set}
	s.walk(set.Lookup(page).Tree.Root, nil, map[string]bool{})
	variants := []map[string]any{{}, s.build(trickyValue, nil), s.build(trickyURL, nil)}
	for _, eq := range s.eqs {
		variants = append(variants, s.build(trickyValue, &eq))
	}
	return variants
}

// shaper records the field paths a page reads (from the top-level data), which of them are
// ranged over (and the paths the range's body reads from each element), and the literals eq
// compares fields with.
type shaper struct {
	set    *template.Template
	fields [][]string
	ranges map[string][][]string // path (joined by ".") -> the body's element paths
	eqs    []eqLit
}

type eqLit struct {
	path []string
	lit  string
}

// walk records what n reads; dot is the path of dot (nil: the top-level data) or, inside a
// range, the range's path with "[]" appended.
func (s *shaper) walk(n parse.Node, dot []string, seen map[string]bool) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			s.walk(c, dot, seen)
		}
	case *parse.ActionNode:
		s.pipe(n.Pipe, dot)
	case *parse.IfNode:
		s.pipe(n.Pipe, dot)
		s.walk(n.List, dot, seen)
		s.walk(n.ElseList, dot, seen)
	case *parse.WithNode:
		s.pipe(n.Pipe, dot)
		s.walk(n.List, append(fieldPath(n.Pipe, dot), "[with]"), seen)
		s.walk(n.ElseList, dot, seen)
	case *parse.RangeNode:
		p := fieldPath(n.Pipe, dot)
		if s.ranges == nil {
			s.ranges = map[string][][]string{}
		}
		if _, ok := s.ranges[strings.Join(p, ".")]; !ok {
			s.ranges[strings.Join(p, ".")] = nil
		}
		s.walk(n.List, append(p, "[]"), seen)
		s.walk(n.ElseList, dot, seen)
	case *parse.TemplateNode:
		if t := s.set.Lookup(n.Name); t != nil && !seen[n.Name] {
			seen[n.Name] = true
			s.walk(t.Tree.Root, dot, seen) // (every call passes dot)
		}
	}
}

// fieldPath is the path of a pipeline that is one field (or variable) read, else nil.
func fieldPath(p *parse.PipeNode, dot []string) []string {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return nil
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		return append(append([]string{}, dot...), a.Ident...)
	case *parse.VariableNode:
		if a.Ident[0] == "$" {
			return append([]string{}, a.Ident[1:]...)
		}
	}
	return nil
}

func (s *shaper) pipe(p *parse.PipeNode, dot []string) {
	if p == nil {
		return
	}
	for _, c := range p.Cmds {
		if len(c.Args) == 3 {
			if id, ok := c.Args[0].(*parse.IdentifierNode); ok && id.Ident == "eq" {
				if f, ok := c.Args[1].(*parse.FieldNode); ok {
					if lit, ok := c.Args[2].(*parse.StringNode); ok {
						s.eqs = append(s.eqs, eqLit{append(append([]string{}, dot...), f.Ident...), lit.Text})
					}
				}
			}
		}
		for _, a := range c.Args {
			switch a := a.(type) {
			case *parse.FieldNode:
				s.fields = append(s.fields, append(append([]string{}, dot...), a.Ident...))
			case *parse.VariableNode:
				if a.Ident[0] == "$" && len(a.Ident) > 1 {
					s.fields = append(s.fields, append([]string{}, a.Ident[1:]...))
				}
			case *parse.PipeNode:
				s.pipe(a, dot)
			}
		}
	}
}

// build makes the data with every recorded field set to v (a range: two elements, maps of
// the fields its body reads, or strings when it reads none), eq's field set to its literal.
func (s *shaper) build(v string, eq *eqLit) map[string]any {
	m := s.value(nil, v)
	if eq != nil {
		set(m, eq.path, eq.lit)
	}
	return m
}

// value is the data at prefix (a path to dot: nil, or a range's path and "[]").
func (s *shaper) value(prefix []string, v string) map[string]any {
	m := map[string]any{}
	under := func(path []string) ([]string, bool) {
		if len(path) <= len(prefix) || !slices.Equal(path[:len(prefix)], prefix) {
			return nil, false
		}
		rest := path[len(prefix):]
		return rest, !slices.Contains(rest, "[]") && !slices.Contains(rest, "[with]")
	}
	for _, f := range s.fields {
		if rest, ok := under(f); ok {
			set(m, rest, v)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(s.ranges)) {
		path := strings.Split(p, ".")
		if rest, ok := under(path); ok {
			elem := s.value(append(path, "[]"), v)
			list := []any{v, "plain"}
			if len(elem) > 0 {
				list = []any{elem, elem}
			}
			set(m, rest, list)
		}
	}
	return m
}

// set puts v at path in m (making the maps on the way).
func set(m map[string]any, path []string, v any) {
	for i, k := range path {
		if i == len(path)-1 {
			if _, isMap := m[k].(map[string]any); isMap && v != nil {
				if _, list := v.([]any); !list {
					return // a field read both as a value and through (.A and .A.B): keep the map
				}
			}
			m[k] = v
			return
		}
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
}
