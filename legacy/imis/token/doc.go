// Package token is the client for the AMS's OAuth2 token endpoint (iMIS: the OWIN
// endpoint at https://<site>/token).
//
// It is how the bridge turns the refresh_token that the iMIS Single Sign-On iPart POSTs to our
// "Login redirect URL" into a member's login name (RefreshGrant: grant_type=refresh_token with
// our registered client_id and client_secret), and how service accounts get a token
// (PasswordGrant: grant_type=password).
//
// Failures are typed so that the bridge can tell the member what happened:
//
//   - ErrInvalidGrant: the AMS answered HTTP 400 invalid_grant (the refresh token is invalid,
//     expired or already used, or the password is wrong). The member signs in to the AMS again.
//   - ErrInvalidClient: the AMS rejected our client registration (client_id/client_secret).
//     An operator must fix the configuration.
//   - everything else (network errors, timeouts, TLS failures, 5xx, redirects, bodies that are
//     not a token response, a response without userName) wraps legacy.ErrUnavailable.
//
// Secrets never leave this package in error strings or logs: the refresh token, the password
// and the client secret are sent only in the request body, response bodies are never quoted,
// and the AMS's error_description is sanitised (and stripped of anything we sent) before it is
// shown. Token's String and LogValue methods redact the tokens it carries.
//
// Retries are conservative, because an iMIS refresh token may be single-use: a refresh grant is
// retried only when the request provably never left this process (the TCP dial failed before
// a connection existed). A password grant is also retried after other transport failures,
// except timeouts (the AMS may have counted the attempt against the account's lock-out).
//
// Check diagnoses the configuration for `ssobridge legacy check --token`: it sends a refresh
// grant with a deliberately invalid token and explains the answer.
package token
