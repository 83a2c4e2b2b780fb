package sso

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	jose "github.com/go-jose/go-jose/v4"
)

// op puts two claims into every ID token that the token endpoint should not carry: c_hash
// (defined only for ID tokens from the authorization endpoint, OIDC Core 3.3.2.11) and
// client_id (not an ID token claim; aud and azp name the client). The token endpoint's
// answers are buffered and their ID token re-signed without them, with the same key.

// tokenResponseWriter holds back a token endpoint response until tidy has looked at it.
type tokenResponseWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (t *tokenResponseWriter) WriteHeader(status int) {
	if t.status == 0 {
		t.status = status
	}
}

func (t *tokenResponseWriter) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	return t.buf.Write(b)
}

// flush writes the response, with its ID token tidied when it is a successful token response.
func (p *Provider) flushTokenResponse(ctx context.Context, t *tokenResponseWriter) {
	status, body := t.status, t.buf.Bytes()
	if status == 0 {
		status = http.StatusOK
	}
	if status == http.StatusOK {
		if out, err := p.tidyTokenResponse(body); err != nil {
			p.log(ctx).ErrorContext(ctx, "token response: tidy ID token", "err", err)
			status = http.StatusInternalServerError
			body = []byte(`{"error":"server_error","error_description":"could not issue tokens"}`)
			t.Header().Set("Content-Type", "application/json")
		} else {
			body = out
		}
	}
	t.Header().Set("Content-Length", strconv.Itoa(len(body)))
	t.ResponseWriter.WriteHeader(status)
	_, _ = t.ResponseWriter.Write(body)
}

// tidyTokenResponse re-signs the id_token of a token response without c_hash and client_id.
func (p *Provider) tidyTokenResponse(body []byte) ([]byte, error) {
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(body, &resp); err != nil {
		return body, nil // not JSON: not ours to change
	}
	rawTok, ok := resp["id_token"]
	if !ok {
		return body, nil
	}
	var idt string
	if err := json.Unmarshal(rawTok, &idt); err != nil {
		return nil, fmt.Errorf("id_token is not a string: %w", err)
	}
	tidy, err := p.tidyIDToken(idt)
	if err != nil {
		return nil, err
	}
	if resp["id_token"], err = json.Marshal(tidy); err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

func (p *Provider) tidyIDToken(raw string) (string, error) {
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil || len(jws.Signatures) != 1 {
		return "", fmt.Errorf("parse ID token: %w", err)
	}
	hdr := jws.Signatures[0].Protected
	dec := json.NewDecoder(bytes.NewReader(jws.UnsafePayloadWithoutVerification()))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return "", fmt.Errorf("ID token claims: %w", err)
	}
	_, ch := claims["c_hash"]
	_, cid := claims["client_id"]
	if !ch && !cid {
		return raw, nil
	}
	delete(claims, "c_hash")
	delete(claims, "client_id")
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	key, err := p.keys.SigningKey(hdr.Algorithm)
	if err != nil {
		return "", fmt.Errorf("ID token signing key: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: key.SignatureAlgorithm(),
		Key: &jose.JSONWebKey{Key: key.Key(), KeyID: key.ID()}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("ID token signer: %w", err)
	}
	out, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign ID token: %w", err)
	}
	return out.CompactSerialize()
}
