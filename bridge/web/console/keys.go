package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/ssobridge/ssobridge/bridge/admin"
)

// ---- signing keys

// keys lists the published signing keys, each with a link to withdraw it.
func (c *Console) keys(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := c.cfg.Admin.SigningKeys(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	b := c.base(s, "Signing keys", "keys")
	q := r.URL.Query()
	// The notice of a withdrawal (PRG), shown only when the key is indeed gone from the list.
	if kid := q.Get("withdrawn"); kid != "" && !slices.ContainsFunc(list, func(k admin.SigningKey) bool { return k.ID == kid }) {
		b.Notice = "The signing key " + kid + " was withdrawn: it signs no more and has left JWKS; tokens it signed are refused."
		// The successor named only when it is in the list, with the algorithm the list gives.
		if i := slices.IndexFunc(list, func(k admin.SigningKey) bool { return k.ID == q.Get("successor") }); i >= 0 {
			b.Notice += " The new key " + list[i].ID + " signs " + list[i].Algorithm + " from now."
		}
	}
	c.render(w, r, s, http.StatusOK, "keys", struct {
		base
		Keys []admin.SigningKey
	}{b, list})
}

// keyToRetire is the published key kid; nil (after answering with a page) when there is none.
func (c *Console) keyToRetire(w http.ResponseWriter, r *http.Request, s *session, kid string) *admin.SigningKey {
	list, err := c.cfg.Admin.SigningKeys(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return nil
	}
	for i := range list {
		if list[i].ID == kid {
			return &list[i]
		}
	}
	c.notRetired(w, r, s, http.StatusNotFound, "No published signing key has the id "+kid+
		": it was withdrawn already, or it has expired and left JWKS.")
	return nil
}

func (c *Console) notRetired(w http.ResponseWriter, r *http.Request, s *session, status int, message string) {
	c.errorPage(w, r, s, status, "Not withdrawn", message)
}

// confirmRetireKey is the confirmation step: what withdrawing the key does, and the form that
// does it.
func (c *Console) confirmRetireKey(w http.ResponseWriter, r *http.Request, s *session) {
	k := c.keyToRetire(w, r, s, r.PathValue("kid"))
	if k == nil {
		return
	}
	c.render(w, r, s, http.StatusOK, "retirekey", struct {
		base
		Key admin.SigningKey
	}{c.base(s, "Withdraw signing key "+k.ID, "keys"), *k})
}

// retireKey withdraws the key (admin.RetireSigningKey: the API's and the CLI's path and audit
// line), only from the confirmation step's form.
func (c *Console) retireKey(w http.ResponseWriter, r *http.Request, s *session) {
	kid := r.PathValue("kid")
	if r.PostFormValue("confirm") != kid {
		c.notRetired(w, r, s, http.StatusBadRequest, "Withdraw a key from its confirmation page (Signing keys, then Withdraw).")
		return
	}
	succ, err := c.cfg.Admin.RetireSigningKey(r.Context(), s.actor(), kid)
	switch {
	case errors.Is(err, admin.ErrNotFound):
		c.notRetired(w, r, s, http.StatusNotFound, "No published signing key has the id "+kid+
			": it was withdrawn already (perhaps by another administrator), or it has expired and left JWKS.")
		return
	case errors.Is(err, admin.ErrInvalid):
		c.notRetired(w, r, s, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		// The key manager refused (another keys.encryption_key than the one the key was sealed
		// with) or the store failed: nothing was withdrawn.
		c.log.ErrorContext(r.Context(), "console: withdraw signing key", "kid", kid, "err", err)
		c.notRetired(w, r, s, http.StatusInternalServerError, "The key "+kid+" was left as it is (it still signs and is in JWKS): "+
			"the withdrawal failed. The server log has the details.")
		return
	}
	q := url.Values{"withdrawn": {kid}}
	if succ != nil {
		q.Set("successor", succ.ID)
	}
	seeOther(w, r, Path+"keys", q)
}
