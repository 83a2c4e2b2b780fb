// Package outbound builds the HTTP clients that reach URLs an app supplied: OIDC back-channel
// logout URIs, SAML SOAP single logout services, provisioning targets (SCIM, webhooks).
//
// Such a URL is chosen by whoever registers the app, and the bridge calls it from inside the
// network, so a URL naming an internal host (the database, a cloud metadata service, an admin
// port on loopback) would make the bridge a way in (SSRF). Checking the URL's host when it is
// registered does not close that: a host name can resolve to an internal address, and resolve
// differently later. So the check is made where the connection is made: the client's dialer
// refuses every address that Internal reports (the IANA special-purpose blocks: loopback, private,
// link-local, unique-local, CGNAT, ...; multicast; IPv4-mapped, NAT64 and 6to4 forms) unless the client is built
// for an app explicitly allowed internal targets (Options.AllowInternal). The check sees the
// address actually dialled, after resolution, so every address a name resolves to is checked.
//
// The clients never follow redirects (a 3xx is the answer), use no proxy from the environment
// (the proxy's own address would be the one checked), and a refused dial is a *RefusedError.
package outbound
