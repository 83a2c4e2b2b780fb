package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"text/template/parse"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/static"
	"github.com/ssobridge/ssobridge/templates"
)

// Brand is what the pages show of the organisation (config: organisation).
type Brand struct {
	Name         string
	LogoURL      string
	PrimaryColor string
	SupportURL   string
}

// Page is the data every template gets; page-specific data embeds it.
type Page struct {
	Title string
	Org   Brand
}

// ErrorData is the data of the error page.
type ErrorData struct {
	Page
	Heading, Message, Hint, RequestRef string
	// Link, when set, is offered as a way on (LinkText names it).
	Link, LinkText string
}

// pageNames are the pages, each a template of its own file (login.html...) that starts with
// layout.html's "head" and ends with its "foot".
var pageNames = [...]string{"login", "consent", "logout", "error", "home", "playground", "handoff", "account", "device", "device_done", "upstream_link", "mfa", "security", "saml_post", "saml_logout", "choose_account"}

// Renderer renders the embedded pages.
type Renderer struct {
	org Brand
	// tmpl holds each page's template (by page name), all of one set: the layout and the
	// partials are parsed, held and escaped once for every page instead of once per page
	// (about 300 KB less of live heap).
	tmpl map[string]*template.Template
	// bufs holds page buffers between renders (a login page is about 1.5 KB: a new buffer
	// grew through five allocations and copies to hold it).
	bufs sync.Pool
}

// maxPooledPage bounds the buffers kept for reuse (a rare large page is not kept).
const maxPooledPage = 64 << 10

// NewRenderer parses the page templates: layout.html and the partials (partial_*.html:
// sections that several pages include, such as the upstream sign-in buttons), then every
// page into the same set. A page renders as it would parsed alone with the layout and the
// partials (TestPagesRenderAsParsedAlone), as long as it defines no template that the layout,
// a partial or another page defines: that would replace it for every page, so it is refused.
func NewRenderer(org Brand) (*Renderer, error) { return newRenderer(org, templates.FS) }

// newRenderer is NewRenderer with the templates read from fsys.
func newRenderer(org Brand, fsys fs.FS) (*Renderer, error) {
	r := &Renderer{org: org, tmpl: map[string]*template.Template{}}
	set, err := template.ParseFS(fsys, "layout.html", "partial_*.html")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	trees := map[string]*parse.Tree{} // the set's templates as parsed so far
	for _, t := range set.Templates() {
		trees[t.Name()] = t.Tree
	}
	for _, name := range pageNames {
		file := name + ".html"
		src, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		if trees[file] != nil {
			return nil, fmt.Errorf("templates: %s: defined twice", file)
		}
		t, err := set.New(file).Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("templates: %s: %w", name, err)
		}
		for _, d := range set.Templates() {
			if old, ok := trees[d.Name()]; ok && old != d.Tree {
				return nil, fmt.Errorf("templates: %s redefines %q", file, d.Name())
			}
			trees[d.Name()] = d.Tree
		}
		r.tmpl[name] = t
	}
	return r, nil
}

// Base is the data every page carries, with its title.
func (r *Renderer) Base(title string) Page { return Page{Title: title, Org: r.org} }

// Render renders page name with data (never cached by the browser).
func (r *Renderer) Render(c echo.Context, status int, name string, data any) error {
	return r.write(c.Response(), status, name, data)
}

// write renders page name with data to w, as Render does through echo's response (echo's
// HTMLBlob: the HTML type, the status, the page), for callers outside the router
// (ProtocolErrorPage) as well.
func (r *Renderer) write(w http.ResponseWriter, status int, name string, data any) error {
	t, ok := r.tmpl[name]
	if !ok {
		return fmt.Errorf("render %s: no such page", name)
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
	if err := t.Execute(buf, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if h.Get(echo.HeaderContentType) == "" { // (as echo's HTMLBlob: a type set before is kept)
		h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	}
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes()) // written (copied) before the buffer goes back
	return err
}

// Error renders a person-facing error with the request id as a reference.
func (r *Renderer) Error(c echo.Context, status int, heading, message, hint string) error {
	return r.Render(c, status, "error", r.ErrorData(c, heading, message, hint))
}

// ErrorData is the error page's data, for callers that add a link.
func (r *Renderer) ErrorData(c echo.Context, heading, message, hint string) ErrorData {
	return ErrorData{Page: r.Base(heading), Heading: heading, Message: message, Hint: hint,
		RequestRef: c.Response().Header().Get(echo.HeaderXRequestID)}
}

// ProtocolErrorPage renders op's non-redirecting authorize/end_session errors (sso.Config.ErrorPage),
// written to w as Error would through echo (the request id of w's answer as the reference),
// without an echo context: the renderer held a whole echo.Echo (about 2.5 KB live, 44 objects)
// for this page's contexts alone, and each page built a context and a response (4 allocations).
func (r *Renderer) ProtocolErrorPage(w http.ResponseWriter, req *http.Request, status int, message string) {
	_ = r.write(w, status, "error", r.protocolErrorData(req.URL.Path, message, w.Header().Get(echo.HeaderXRequestID)))
}

// protocolErrorData is the error page's data for a refused request to path (sso's message).
func (r *Renderer) protocolErrorData(path, message, requestRef string) ErrorData {
	heading, hint := "This sign-in request cannot be used",
		"Go back to the app and try again. If it keeps happening, tell the app's support team."
	if strings.HasSuffix(path, sso.PathEndSession) {
		// RP-initiated logout: message is sso's own sentence about the sign-out request.
		heading, hint = "This sign-out request cannot be used",
			"You were not signed out here. Go back to the app and try again; if it keeps happening, tell the app's support team."
	} else {
		message = "The app that sent you here made a request we cannot accept: " + message
	}
	return ErrorData{Page: r.Base(heading), Heading: heading, Message: message, Hint: hint, RequestRef: requestRef}
}

// Mount adds the static files and the theme stylesheet, for GET and HEAD (RFC 9110 9.3.2: a
// general-purpose server supports HEAD; these GETs change nothing, and net/http sends no body
// for HEAD).
func (r *Renderer) Mount(e *echo.Echo) {
	methods := []string{http.MethodGet, http.MethodHead}
	e.Match(methods, "/theme.css", r.themeCSS)
	e.Match(methods, "/static/*", staticHandler(static.FS))
}

// staticCacheControl is the Cache-Control of a static file served (200, 206) or confirmed
// (304): any cache may keep it an hour.
const staticCacheControl = "public, max-age=3600"

// staticFile is a file under /static/, read once.
type staticFile struct {
	name, contentType, etag string
	data                    []byte
}

// staticHandler serves the files at the top of fsys by their exact names, with
// http.ServeContent (HEAD, ranges, If-None-Match against the file's ETag): nothing else.
// Anything else under /static/ (the directory itself, which http.FileServer answered with an
// HTML listing; a name that is not a file of fsys) is the site's 404 page through the error
// handler, with Cache-Control no-store (Render): staticCacheControl is set only on a file's
// answer, where http.FileServer set it before it answered, on its text/plain 404 too, which any
// cache could then keep for an hour (review s23 X2-4). ServeContent's own refusals (416, 412)
// drop the caller's Cache-Control and ETag (net/http's serveError).
func staticHandler(fsys fs.FS) echo.HandlerFunc {
	files := map[string]*staticFile{}
	entries, _ := fs.ReadDir(fsys, ".")
	for _, de := range entries {
		if !de.Type().IsRegular() {
			continue
		}
		data, err := fs.ReadFile(fsys, de.Name())
		if err != nil {
			continue
		}
		sum := sha256.Sum256(data)
		files[de.Name()] = &staticFile{name: de.Name(), contentType: mime.TypeByExtension(path.Ext(de.Name())),
			etag: `"` + hex.EncodeToString(sum[:12]) + `"`, data: data}
	}
	return func(c echo.Context) error {
		f := files[c.Param("*")]
		if f == nil {
			return echo.ErrNotFound
		}
		h := c.Response().Header()
		h.Set("Cache-Control", staticCacheControl)
		h.Set("Etag", f.etag)
		if f.contentType != "" {
			h.Set(echo.HeaderContentType, f.contentType)
		}
		http.ServeContent(c.Response(), c.Request(), f.name, time.Time{}, bytes.NewReader(f.data))
		return nil
	}
}

func (r *Renderer) themeCSS(c echo.Context) error {
	color := r.org.PrimaryColor
	if color == "" {
		color = "#0b5cab"
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, "text/css; charset=utf-8", []byte(":root { --primary: "+color+"; }\n"))
}

// MembershipUnavailable answers a sign-in the AMS could not serve (it is logged; the page says to retry).
func (r *Renderer) MembershipUnavailable(c echo.Context, log *slog.Logger, err error) error {
	log.ErrorContext(c.Request().Context(), "membership system error", "err", err)
	return r.Error(c, http.StatusServiceUnavailable, "Membership system unavailable",
		"We cannot reach the membership system right now, so we cannot sign you in.",
		"Please try again in a few minutes.")
}

// AccessRuleFault answers a member whom app's access rule could not decide (it failed to
// evaluate: access.Decision.Fault, the operator's fault, logged and audited by the caller): a
// server fault (500) that says the app cannot be opened now, never that the membership does
// not allow it.
func (r *Renderer) AccessRuleFault(c echo.Context, app string) error {
	return r.Error(c, http.StatusInternalServerError, "This app cannot be opened right now",
		app+" cannot be opened right now because of a fault on our side. Nothing is wrong with your membership.",
		"Please try again later. If it keeps happening, contact the association.")
}

// AppLink is an app the member can open from the account page.
type AppLink struct{ Name, URL string }

// Clients finds registered clients.
type Clients interface {
	Client(ctx context.Context, id string) (*sso.ClientConfig, error)
}

// ClientName is the display name of client id ("" when id is empty or not registered).
func ClientName(ctx context.Context, clients Clients, id string) string {
	if id == "" {
		return ""
	}
	cl, err := clients.Client(ctx, id)
	if err != nil {
		return ""
	}
	return cl.Name
}
