// Package sim simulates the parts of an iMIS website that ssobridge talks to, so that tests
// and newcomers can run the whole iMIS-first Single Sign-On hand-off on one machine:
//
//   - the forms-authentication login page
//     ({base}/AsiCommon/Controls/Shared/FormsAuthentication/Login.aspx, session cookie "Login"),
//   - a home page ({base}/) showing who is signed in,
//   - the page holding the Single Sign-On iPart ({base}/sso?client=<client_id>): it issues a
//     single-use refresh token (32 hex characters, like iMIS) for the signed-in member and the
//     selected client application and auto-POSTs it as the form field refresh_token to the
//     client's "Login redirect URL",
//   - the OWIN token endpoint ({base}/token: grant_type=refresh_token with client
//     credentials, rotating the refresh token; grant_type=password),
//   - the logout URL ({base}/AsiCommon/Controls/Shared/FormsAuthentication/logout.aspx
//     ?returnurl=...).
//
// Passwords are checked by a legacy.Authenticator (the bridge passes its demo directory).
// Everything else lives in memory: it is a simulator, not an AMS. Unlike iMIS, it only
// redirects after logout to return URLs whose origin is allowed, and its login form is
// protected against cross-site request forgery, because it is shipped in the bridge's demo
// mode.
//
// The Simulator is an http.Handler that expects the full request path: mount it without
// stripping the prefix, e.g. mux.Handle(cfg.BasePath+"/", sim). Paths below the base are
// matched case-insensitively, as IIS does. Tests can inject token-endpoint faults with
// SetFaults and obtain refresh tokens without a browser with IssueRefreshToken.
package sim
