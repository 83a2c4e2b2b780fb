// Package identity holds who a member is to the bridge and the installation secrets that
// say it:
//
//   - SubjectMapper: the opaque, stable subject of a member (an HMAC of the AMS's immutable
//     member key under a per-installation secret), stored so that it maps back.
//   - CanonicalLogin, LoginUsable and LoginHasher: the canonical form of a typed login (the
//     throttle counts per it), the refusal of logins with invisible code points, and the keyed
//     hash the audit log keeps of a typed login that failed.
//   - OpenSecrets and EnsureSealed: installation secrets, stored sealed under the
//     key-encryption key (keys.encryption_key) and bound to their name.
//   - Sealer: values sealed for one purpose (logout and hand-off tickets) for URLs and forms.
//
// Nothing here reads the configuration: callers pass keys and stores.
package identity
