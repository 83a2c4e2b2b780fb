// Package rsasign signs RS256 (RSA PKCS #1 v1.5 with SHA-256) through the system's OpenSSL 3
// libcrypto when the process can load it, and says so when it cannot.
//
// Why: an RS256 signature is most of the CPU of a sign-in and of a refresh. Go's crypto/rsa
// signs a 2048-bit key in 0.93-1.27 ms of one core on the load-run machine; OpenSSL 3 signs
// the same key, Go's check included, in 0.37-0.38 ms (2026-12-07, `loadtest -sign`; it has
// AVX-512 IFMA and ADX code paths Go lacks). RSASSA-PKCS1
// v1.5 is deterministic, so both give the same bytes for the same key and message: the tests
// compare them signature for signature.
//
// How: libcrypto.so.3 is opened at run time with dlopen (no OpenSSL headers or library are
// needed to build, and a machine without it keeps signing with Go). Only a cgo build on Linux
// can open it; every other build answers ErrUnavailable from Open. Each signature is checked
// with Go's crypto/rsa against the public key before it is returned, as crypto/rsa checks its
// own (a faulty CRT signature would reveal the key), so a wrong signature never leaves.
package rsasign
