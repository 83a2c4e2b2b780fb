package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// notices are the messages a redirect after a change shows (?done=...).
var notices = map[string]string{
	"removed": "The client was removed and its grants revoked.",
	"saved":   "The client was saved.",
	"retried": "Re-queued; the outbox delivers at its next round.",
	"discard": "The dead letter was discarded.",
	"reset":   "Every second factor of the member was removed, their sessions ended and their tokens revoked; they are told at their next sign-in.",
}

func notice(r *http.Request) string { return notices[r.URL.Query().Get("done")] }

// seeOther redirects after a change (PRG), with a notice and more query.
func seeOther(w http.ResponseWriter, r *http.Request, path string, q url.Values) {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, s *session) {
	b := c.base(s, "Admin console", "home")
	c.render(w, r, s, http.StatusOK, "home", struct {
		base
		Roles string
	}{b, strings.Join(c.cfg.Roles, ", ")})
}

// ---- clients

func (c *Console) clients(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := c.cfg.Admin.Clients(r.Context(), s.actor())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	b := c.base(s, "Clients", "clients")
	b.Notice = notice(r)
	c.render(w, r, s, http.StatusOK, "clients", struct {
		base
		Clients []admin.ClientInfo
	}{b, list})
}

// clientForm is the add/edit form's data.
type clientForm struct {
	base
	New    bool
	Static bool
	C      admin.Client
	Error  string
	// Grants are the grant types offered as checkboxes.
	Grants []string
}

var grantChoices = []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken, sso.GrantClientCredentials, sso.GrantDeviceCode, sso.GrantTokenExchange, sso.GrantPassword}

func (c *Console) newClient(w http.ResponseWriter, r *http.Request, s *session) {
	c.render(w, r, s, http.StatusOK, "client", clientForm{base: c.base(s, "Add a client", "clients"), New: true,
		C: admin.Client{GrantTypes: []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken}}, Grants: grantChoices})
}

func (c *Console) client(w http.ResponseWriter, r *http.Request, s *session) {
	ci, err := c.cfg.Admin.Client(r.Context(), s.actor(), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	b := c.base(s, "Client "+ci.ID, "clients")
	b.Notice = notice(r)
	c.render(w, r, s, http.StatusOK, "client", clientForm{base: b, Static: ci.Source == "config", C: ci.Client, Grants: grantChoices})
}

// fields splits a textarea or input into its non-empty lines or words.
func fields(v string) []string {
	out := []string{}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' || r == ' ' || r == ',' || r == '\t' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// formClient reads the add/edit form.
func formClient(r *http.Request) admin.Client {
	f := r.PostForm
	return admin.Client{
		ID: strings.TrimSpace(f.Get("id")), Name: strings.TrimSpace(f.Get("name")), Public: f.Get("public") == "on",
		RedirectURIs: fields(f.Get("redirect_uris")), PostLogoutRedirectURIs: fields(f.Get("post_logout_redirect_uris")),
		GrantTypes: f["grant_types"], Scopes: fields(f.Get("scopes")), Trusted: f.Get("trusted") == "on",
		IDTokenSigningAlg: f.Get("id_token_signing_alg"), OmitIDTokenOnRefresh: f.Get("omit_id_token_on_refresh") == "on",
		WebOrigins: fields(f.Get("web_origins")), AccessTokenFormat: f.Get("access_token_format"), Audiences: fields(f.Get("audiences")),
		BackchannelLogoutURI: strings.TrimSpace(f.Get("backchannel_logout_uri")), FrontchannelLogoutURI: strings.TrimSpace(f.Get("frontchannel_logout_uri")),
		InitiateLoginURI: strings.TrimSpace(f.Get("initiate_login_uri")), MFA: f.Get("mfa"),
		AllowInternalTargets: f.Get("allow_internal_targets") == "on",
	}
}

// formError shows the form again with the administration's refusal.
func (c *Console) formError(w http.ResponseWriter, r *http.Request, s *session, form clientForm, err error) {
	if !errors.Is(err, admin.ErrInvalid) && !errors.Is(err, admin.ErrStatic) {
		c.fail(w, r, s, err)
		return
	}
	form.Error = err.Error()
	form.Grants = grantChoices
	c.render(w, r, s, http.StatusBadRequest, "client", form)
}

func (c *Console) createClient(w http.ResponseWriter, r *http.Request, s *session) {
	reg := formClient(r)
	info, secret, err := c.cfg.Admin.CreateClient(r.Context(), s.actor(), reg)
	if err != nil {
		c.formError(w, r, s, clientForm{base: c.base(s, "Add a client", "clients"), New: true, C: reg}, err)
		return
	}
	c.showSecret(w, r, s, info.ID, secret, "added")
}

// showSecret shows a new secret once (never stored, never shown again).
func (c *Console) showSecret(w http.ResponseWriter, r *http.Request, s *session, id, secret, what string) {
	c.render(w, r, s, http.StatusOK, "secret", struct {
		base
		ID, Secret, What string
	}{c.base(s, "Client "+id+" "+what, "clients"), id, secret, what})
}

func (c *Console) updateClient(w http.ResponseWriter, r *http.Request, s *session) {
	reg := formClient(r)
	id := r.PathValue("id")
	if _, err := c.cfg.Admin.UpdateClient(r.Context(), s.actor(), id, reg); err != nil {
		reg.ID = id
		c.formError(w, r, s, clientForm{base: c.base(s, "Client "+id, "clients"), C: reg}, err)
		return
	}
	seeOther(w, r, Path+"clients/"+url.PathEscape(id), url.Values{"done": {"saved"}})
}

func (c *Console) rotateSecret(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	secret, err := c.cfg.Admin.RotateSecret(r.Context(), s.actor(), id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.showSecret(w, r, s, id, secret, "has a new secret")
}

func (c *Console) removeClient(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if r.PostFormValue("confirm") != id {
		c.errorPage(w, r, s, http.StatusBadRequest, "Not removed", "Type the client's id in the confirmation field to remove it.")
		return
	}
	if err := c.cfg.Admin.DeleteClient(r.Context(), s.actor(), id); err != nil {
		c.fail(w, r, s, err)
		return
	}
	seeOther(w, r, Path+"clients", url.Values{"done": {"removed"}})
}

// ---- sessions and tokens

func (c *Console) sessions(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	f := memberFilter(q.Get("member"), q.Get("client"))
	b := c.base(s, "Sessions and tokens", "sessions")
	if n := q.Get("ended"); n != "" {
		b.Notice = "Ended " + n + " session(s); their apps were told (back-channel logout)."
	}
	if n := q.Get("revoked"); n != "" {
		b.Notice = "Revoked " + n + " grant(s) with their access and refresh tokens."
	}
	data := struct {
		base
		Member, Client string
		Sessions       []admin.SessionInfo
		Tokens         []admin.TokenInfo
		Error          string
	}{base: b, Member: q.Get("member"), Client: q.Get("client")}
	var err error
	if data.Sessions, err = c.cfg.Admin.Sessions(r.Context(), s.actor(), f); err == nil {
		data.Tokens, err = c.cfg.Admin.Tokens(r.Context(), s.actor(), f)
	}
	if errors.Is(err, admin.ErrNotFound) || errors.Is(err, admin.ErrInvalid) {
		data.Error, err = err.Error(), nil
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, http.StatusOK, "sessions", data)
}

// memberFilter reads "member" as a subject when it looks like one the bridge issued, else as a login.
func memberFilter(member, client string) admin.Filter {
	member, client = strings.TrimSpace(member), strings.TrimSpace(client)
	f := admin.Filter{Client: client}
	if strings.HasPrefix(member, "sub:") {
		f.Subject = strings.TrimPrefix(member, "sub:")
	} else {
		f.Login = member
	}
	return f
}

// revokeFilter reads a revoke form: one id, or every match of member and client.
func revokeFilter(r *http.Request) admin.Filter {
	f := memberFilter(r.PostFormValue("member"), r.PostFormValue("client"))
	if id := r.PostFormValue("id"); id != "" {
		return admin.Filter{ID: id}
	}
	return f
}

func backToSessions(r *http.Request, key string, n int) url.Values {
	return url.Values{key: {fmt.Sprint(n)}, "member": {r.PostFormValue("member")}, "client": {r.PostFormValue("client")}}
}

func (c *Console) revokeSessions(w http.ResponseWriter, r *http.Request, s *session) {
	n, err := c.cfg.Admin.EndSessions(r.Context(), s.actor(), revokeFilter(r))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	seeOther(w, r, Path+"sessions", backToSessions(r, "ended", n))
}

func (c *Console) revokeTokens(w http.ResponseWriter, r *http.Request, s *session) {
	n, err := c.cfg.Admin.RevokeTokens(r.Context(), s.actor(), revokeFilter(r))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	seeOther(w, r, Path+"sessions", backToSessions(r, "revoked", n))
}

// ---- members

func (c *Console) members(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	q := r.URL.Query()
	login, client := strings.TrimSpace(q.Get("login")), strings.TrimSpace(q.Get("client"))
	data := struct {
		base
		Login, Client string
		Clients       []admin.ClientInfo
		Check         string
		CheckError    string
		Consents      []admin.ConsentInfo
		Links         []admin.LinkInfo
		Factors       *admin.FactorsInfo
		Preview       *admin.ClaimsPreview
		PreviewError  string
		IDToken       string
		Userinfo      string
		AccessToken   string
	}{base: c.base(s, "Members", "members"), Login: login, Client: client}
	data.Notice = notice(r)
	var err error
	if data.Clients, err = c.cfg.Admin.Clients(ctx, s.actor()); err != nil {
		c.fail(w, r, s, err)
		return
	}
	if login != "" {
		var b strings.Builder
		if err := c.cfg.Admin.CheckLogin(ctx, s.actor(), login, &b); err != nil {
			data.CheckError = err.Error()
		}
		data.Check = b.String()
		if data.Consents, err = c.cfg.Admin.Consents(ctx, s.actor(), login); err != nil && !errors.Is(err, admin.ErrNotFound) {
			c.fail(w, r, s, err)
			return
		}
		if data.Links, err = c.cfg.Admin.LinkedIdentities(ctx, s.actor(), login); err != nil && !errors.Is(err, admin.ErrNotFound) {
			c.fail(w, r, s, err)
			return
		}
		if data.Factors, err = c.cfg.Admin.MemberFactors(ctx, s.actor(), login); err != nil && !errors.Is(err, admin.ErrNotFound) {
			c.fail(w, r, s, err)
			return
		}
		if client != "" {
			p, err := c.cfg.Admin.ClaimsPreview(ctx, s.actor(), client, login, nil)
			if err != nil {
				data.PreviewError = err.Error()
			} else {
				data.Preview = p
				data.IDToken, data.Userinfo, data.AccessToken = pretty(p.IDToken), pretty(p.Userinfo), pretty(p.AccessToken)
			}
		}
	}
	c.render(w, r, s, http.StatusOK, "members", data)
}

func (c *Console) resetFactors(w http.ResponseWriter, r *http.Request, s *session) {
	login := strings.TrimSpace(r.PostFormValue("login"))
	if r.PostFormValue("confirm") != login || login == "" {
		c.errorPage(w, r, s, http.StatusBadRequest, "Not reset", "Type the member's login in the confirmation field to remove their second factors.")
		return
	}
	if _, err := c.cfg.Admin.ResetFactors(r.Context(), s.actor(), memberFilter(login, "")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	seeOther(w, r, Path+"members", url.Values{"login": {login}, "done": {"reset"}})
}

// issueInvite issues the member's one-time enrolment invitation (mfa.first_enrolment:
// invitation) as the admin API does (admin.IssueInvite: audited, never the code) and shows its
// code this once: on the page the POST answers, never in a URL; the store keeps its hash.
func (c *Console) issueInvite(w http.ResponseWriter, r *http.Request, s *session) {
	login := strings.TrimSpace(r.PostFormValue("login"))
	if login == "" {
		c.errorPage(w, r, s, http.StatusBadRequest, "No invitation", "Say whose invitation: look the member up first.")
		return
	}
	inv, err := c.cfg.Admin.IssueInvite(r.Context(), s.actor(), memberFilter(login, ""))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	c.render(w, r, s, http.StatusOK, "invite", struct {
		base
		Login, Code string
		ExpiresAt   time.Time
	}{c.base(s, "Invitation for "+login, "members"), login, inv.Code, inv.ExpiresAt})
}

// ---- provisioning

func (c *Console) provisioning(w http.ResponseWriter, r *http.Request, s *session) {
	st, err := c.cfg.Admin.Outbox(r.Context(), s.actor())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	b := c.base(s, "Provisioning", "provisioning")
	b.Notice = notice(r)
	c.render(w, r, s, http.StatusOK, "provisioning", struct {
		base
		*admin.OutboxStatus
		NPending, NDelivered, NDead, NSuperseded, NSkipped int
	}{b, st, st.Counts[store.OutboxPending], st.Counts[store.OutboxDelivered], st.Counts[store.OutboxDead],
		st.Counts[store.OutboxSuperseded], st.Counts[store.OutboxSkipped]})
}

func (c *Console) retry(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PostFormValue("id")
	if id == "" && r.PostFormValue("all") != "yes" {
		c.errorPage(w, r, s, http.StatusBadRequest, "Nothing re-queued", "Say which dead letter to retry, or retry all.")
		return
	}
	if _, err := c.cfg.Admin.RetryEvents(r.Context(), s.actor(), id); err != nil {
		c.fail(w, r, s, err)
		return
	}
	seeOther(w, r, Path+"provisioning", url.Values{"done": {"retried"}})
}

func (c *Console) discard(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.cfg.Admin.DiscardEvent(r.Context(), s.actor(), r.PostFormValue("id")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	seeOther(w, r, Path+"provisioning", url.Values{"done": {"discard"}})
}

// ---- AMS connection

type amsPage struct {
	base
	Login string
	Ran   bool
	Steps []admin.AMSStep
	Total time.Duration
}

func (c *Console) ams(w http.ResponseWriter, r *http.Request, s *session) {
	c.render(w, r, s, http.StatusOK, "ams", amsPage{base: c.base(s, "AMS connection", "ams")})
}

func (c *Console) testAMS(w http.ResponseWriter, r *http.Request, s *session) {
	login := strings.TrimSpace(r.PostFormValue("login"))
	steps := c.cfg.Admin.TestAMS(r.Context(), s.actor(), login)
	var total time.Duration
	for _, st := range steps {
		total += st.Duration
	}
	c.render(w, r, s, http.StatusOK, "ams", amsPage{base: c.base(s, "AMS connection", "ams"), Login: login, Ran: true, Steps: steps, Total: total})
}

// ---- audit log

// timeLayouts are what the audit search's time fields accept (datetime-local sends the first).
var timeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339, "2006-01-02"}

func parseTime(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q is not a time such as 2026-01-02T15:04 (UTC)", admin.ErrInvalid, v)
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	data := struct {
		base
		Member, Client, Event, Since, Until string
		Events                              []*store.AuditEvent
		Error                               string
		Searched                            bool
	}{base: c.base(s, "Audit log", "audit"), Member: q.Get("member"), Client: q.Get("client"), Event: q.Get("event"),
		Since: q.Get("since"), Until: q.Get("until")}
	since, err := parseTime(data.Since)
	var until time.Time
	if err == nil {
		until, err = parseTime(data.Until)
	}
	if err == nil {
		data.Events, err = c.cfg.Admin.AuditEvents(r.Context(), s.actor(), admin.AuditQuery{Member: data.Member, Client: data.Client,
			Event: data.Event, Since: since, Until: until, Limit: 200})
		data.Searched = true
	}
	if errors.Is(err, admin.ErrInvalid) || errors.Is(err, admin.ErrNotFound) {
		data.Error, err = err.Error(), nil
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, http.StatusOK, "audit", data)
}

// pretty is claims as indented JSON.
func pretty(v map[string]any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}
