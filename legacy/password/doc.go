// Package password verifies passwords against the hashes legacy membership systems store:
//
//   - ASP.NET Membership (SqlMembershipProvider, the iMIS password store): format 0 (clear),
//     format 1 (hashed: base64(H(salt || UTF-16LE(password))) with SHA-1, SHA-256, SHA-384 or
//     SHA-512 chosen by the decoded length, or the keyed HMAC variant when the site runs a
//     keyed hashAlgorithmType), format 2 (encrypted with the site's machineKey: refused);
//     as SqlMembershipProvider does, a password with white space around it is also tried
//     trimmed (the provider trims it before hashing when it is set and when it is checked);
//   - ASP.NET Identity v2 (0x00 prefix, PBKDF2-HMAC-SHA1, 1000 iterations) and v3 (0x01 header
//     with PRF, iteration count and salt length), detected from the stored value;
//   - bcrypt ($2a$, $2b$, $2y$).
//
// Every comparison is constant-time. Formats that cannot be verified fail closed with
// legacy.ErrUnsupportedHash; work factors and password lengths are capped so that a corrupt or
// hostile stored value cannot make a sign-in arbitrarily expensive.
//
// The package never logs and never returns stored values in errors.
package password
