package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/ssobridge/ssobridge/bridge/admin"
)

// ---- signing keys

// keys lists the published signing keys, OIDC and SAML, each with a link to withdraw it.
func (c *Console) keys(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := c.cfg.Admin.SigningKeys(r.Context(), s.actor())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	// The SAML keys, when they are managed here (the server's ring).
	samlKeys, err := c.cfg.Admin.SAMLSigningKeys(r.Context(), s.actor())
	if err != nil && !errors.Is(err, admin.ErrInvalid) {
		c.fail(w, r, s, err)
		return
	}
	b := c.base(s, "Signing keys", "keys")
	b.Notice = withdrawalNotice(s, r.URL.Query(), list, samlKeys)
	c.render(w, r, s, http.StatusOK, "keys", struct {
		base
		Keys     []admin.SigningKey
		SAMLKeys []admin.SAMLSigningKey
		SAML     bool
	}{b, list, samlKeys, err == nil})
}

// Kinds of key a withdrawal notice names.
const (
	kindOIDC = "oidc"
	kindSAML = "saml"
)

// withdrawalProof binds the notice of a withdrawal (the redirect after it, PRG) to the console
// session that did it: an HMAC, keyed by the session's CSRF token (a secret of this session and
// its browser), of what the notice names. A link made anywhere else (another administrator's
// session, a crafted URL) shows no notice (end-of-session review s14 RV3-2: any withdrawn=<kid>
// not in the list was announced as withdrawn).
func withdrawalProof(s *session, kind, kid, successor string) string {
	m := hmac.New(sha256.New, []byte(s.CSRF))
	m.Write([]byte("ssobridge-console-key-withdrawn\x00" + kind + "\x00" + kid + "\x00" + successor))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// withdrawnAt is where a withdrawal made by s sends the browser: the keys page with its notice.
func withdrawnAt(s *session, kind, kid, successor string) url.Values {
	q := url.Values{"withdrawn": {kid}, "proof": {withdrawalProof(s, kind, kid, successor)}}
	if kind == kindSAML {
		q.Set("kind", kindSAML)
	}
	if successor != "" {
		q.Set("successor", successor)
	}
	return q
}

// withdrawalNotice is the notice of the withdrawal this session made, from the redirect's
// query, or "" when the query is not one this session's withdrawal made. The successor is
// named only when it is a published key, with what the key list says of it.
func withdrawalNotice(s *session, q url.Values, list []admin.SigningKey, samlKeys []admin.SAMLSigningKey) string {
	kid, successor, kind := q.Get("withdrawn"), q.Get("successor"), q.Get("kind")
	if kind == "" {
		kind = kindOIDC
	}
	want := withdrawalProof(s, kind, kid, successor)
	if kid == "" || (kind != kindOIDC && kind != kindSAML) || !hmac.Equal([]byte(q.Get("proof")), []byte(want)) {
		return ""
	}
	if kind == kindSAML {
		n := "The SAML signing key " + kid + " was withdrawn: it signs no more and has left the SAML metadata."
		if i := slices.IndexFunc(samlKeys, func(k admin.SAMLSigningKey) bool { return k.ID == successor }); i >= 0 {
			n += " The new key " + samlKeys[i].ID + " signs from now (certificate SHA-256 " + samlKeys[i].CertificateSHA256 + "):" +
				" service providers refuse the sign-ins it signs until they read the metadata again; ask their operators to refresh it."
		}
		return n
	}
	n := "The signing key " + kid + " was withdrawn: it signs no more and has left JWKS; tokens it signed are refused."
	if i := slices.IndexFunc(list, func(k admin.SigningKey) bool { return k.ID == successor }); i >= 0 {
		n += " The new key " + list[i].ID + " signs " + list[i].Algorithm + " from now."
	}
	return n
}

// keyToRetire is the published key kid; nil (after answering with a page) when there is none.
func (c *Console) keyToRetire(w http.ResponseWriter, r *http.Request, s *session, kid string) *admin.SigningKey {
	list, err := c.cfg.Admin.SigningKeys(r.Context(), s.actor())
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
	c.retireConfirmed(w, r, s, kindOIDC, "signing key", "it still signs and is in JWKS", func(kid string) (string, error) {
		succ, err := c.cfg.Admin.RetireSigningKey(r.Context(), s.actor(), kid)
		if succ == nil {
			return "", err
		}
		return succ.ID, err
	})
}

// retireConfirmed withdraws the key the path names through retire (which returns its successor's
// id, if any), only when the confirmation step's form sent it, and shows the keys page with the
// withdrawal's notice for this console session; what: the kind of key in messages, stands: what
// a key left as it is still does (withdrawalFailed).
func (c *Console) retireConfirmed(w http.ResponseWriter, r *http.Request, s *session, kind, what, stands string,
	retire func(kid string) (successor string, err error)) {
	kid := r.PathValue("kid")
	if r.PostFormValue("confirm") != kid {
		c.notRetired(w, r, s, http.StatusBadRequest, "Withdraw a key from its confirmation page (Signing keys, then Withdraw).")
		return
	}
	successor, err := retire(kid)
	if err != nil {
		c.withdrawalFailed(w, r, s, kid, what, stands, err)
		return
	}
	seeOther(w, r, Path+"keys", withdrawnAt(s, kind, kid, successor))
}

// withdrawalFailed answers a withdrawal the administration refused or that failed, saying only
// what is known: a refusal (unknown or withdrawn key, another keys.encryption_key) changed
// nothing; any other failure (the store's, perhaps at the commit) may or may not have withdrawn
// the key (end-of-session review s14 RV3-3).
func (c *Console) withdrawalFailed(w http.ResponseWriter, r *http.Request, s *session, kid, what, stands string, err error) {
	switch {
	case errors.Is(err, admin.ErrNotFound):
		c.notRetired(w, r, s, http.StatusNotFound, "No published "+what+" has the id "+kid+
			": it was withdrawn already (perhaps by another administrator), or it has expired.")
	case errors.Is(err, admin.ErrInvalid):
		c.notRetired(w, r, s, http.StatusBadRequest, err.Error())
	case errors.Is(err, admin.ErrOtherEncryptionKey):
		c.log.ErrorContext(r.Context(), "console: withdraw key refused", "kid", kid, "err", err)
		c.notRetired(w, r, s, http.StatusConflict, "The "+what+" "+kid+" was left as it is ("+stands+"): "+
			"this server's keys.encryption_key does not open it, so it was not withdrawn. The server log has the details.")
	case errors.Is(err, admin.ErrSuccessorRefused):
		c.log.ErrorContext(r.Context(), "console: withdraw key refused", "kid", kid, "err", err)
		c.notRetired(w, r, s, http.StatusConflict, "The "+what+" "+kid+" was left as it is ("+stands+"): "+
			"this server's OpenSSL cannot sign with the new key it made to replace it (keys.rsa_signer: openssl), "+
			"so the key was left signing. The server log has why OpenSSL refused the new key. To withdraw the key "+
			"all the same (if it may have leaked, for example), set keys.rsa_signer: auto, so that Go's crypto/rsa "+
			"signs with the new key, and withdraw it again.")
	default:
		c.log.ErrorContext(r.Context(), "console: withdraw key", "kid", kid, "err", err)
		c.notRetired(w, r, s, http.StatusInternalServerError, "The withdrawal of the "+what+" "+kid+" failed, and whether it "+
			"was withdrawn is not known (the store may have failed before or after it did). Open Signing keys to see "+
			"whether it is still listed, and withdraw it again if it is. The server log has the details.")
	}
}

// ---- SAML signing keys

// samlKeyToRetire is the published SAML key kid; nil (after answering with a page) when there
// is none.
func (c *Console) samlKeyToRetire(w http.ResponseWriter, r *http.Request, s *session, kid string) *admin.SAMLSigningKey {
	list, err := c.cfg.Admin.SAMLSigningKeys(r.Context(), s.actor())
	if err != nil {
		c.fail(w, r, s, err)
		return nil
	}
	for i := range list {
		if list[i].ID == kid {
			return &list[i]
		}
	}
	c.notRetired(w, r, s, http.StatusNotFound, "No SAML signing key in the metadata has the id "+kid+
		": it was withdrawn already, or it has expired and left the metadata.")
	return nil
}

// confirmRetireSAMLKey is the confirmation step of a SAML key's withdrawal: what it does (the
// SPs refuse the sign-ins it signs until they read the metadata again), and the form.
func (c *Console) confirmRetireSAMLKey(w http.ResponseWriter, r *http.Request, s *session) {
	k := c.samlKeyToRetire(w, r, s, r.PathValue("kid"))
	if k == nil {
		return
	}
	c.render(w, r, s, http.StatusOK, "retiresamlkey", struct {
		base
		Key admin.SAMLSigningKey
	}{c.base(s, "Withdraw SAML signing key "+k.ID, "keys"), *k})
}

// retireSAMLKey withdraws the SAML key (admin.RetireSAMLSigningKey: the API's and the CLI's
// path and audit line), only from the confirmation step's form.
func (c *Console) retireSAMLKey(w http.ResponseWriter, r *http.Request, s *session) {
	c.retireConfirmed(w, r, s, kindSAML, "SAML signing key", "it still signs and is in the SAML metadata", func(kid string) (string, error) {
		succ, err := c.cfg.Admin.RetireSAMLSigningKey(r.Context(), s.actor(), kid)
		if succ == nil {
			return "", err
		}
		return succ.ID, err
	})
}
