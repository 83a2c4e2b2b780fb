package rsasign

import (
	"sync/atomic"
	"time"
)

// Retry is what happens after libcrypto fails a signature with one key (review s26 R1-1): the
// key is never handed to crypto/rsa for good. Under Required (keys.rsa_signer: openssl)
// crypto/rsa never signs instead: the failed signature is an error and the next one tries
// libcrypto again. Otherwise (auto) crypto/rsa signs while a back-off runs (RetryBackoff: one
// minute after the first failure in a row, doubling up to an hour), and the first signature
// after it tries libcrypto again. The zero value is auto with no failure; it is safe for
// concurrent use.
type Retry struct {
	Required bool
	fails    atomic.Int64 // failures in a row (0: libcrypto signs)
	retryAt  atomic.Int64 // auto: Unix nanoseconds before which crypto/rsa signs
}

// RetryBackoff is how long crypto/rsa signs after the nth failure in a row (auto).
func RetryBackoff(n int64) time.Duration {
	return time.Minute << min(max(n-1, 0), 6) // 1, 2, 4, ... 64 minutes
}

// Try says whether libcrypto is to make the signature at now: always under Required; in auto,
// unless the back-off after a failure runs.
func (r *Retry) Try(now time.Time) bool {
	return r.Required || r.fails.Load() == 0 || now.UnixNano() >= r.retryAt.Load()
}

// Failed records a failure at now: the failures in a row so far, and how long crypto/rsa signs
// (zero under Required: libcrypto is tried for the next signature).
func (r *Retry) Failed(now time.Time) (n int64, backoff time.Duration) {
	n = r.fails.Add(1)
	if r.Required {
		return n, 0
	}
	backoff = RetryBackoff(n)
	r.retryAt.Store(now.Add(backoff).UnixNano())
	return n, backoff
}

// Succeeded records a libcrypto signature: the failures in a row it ends (0 when there were none).
func (r *Retry) Succeeded() int64 {
	if r.fails.Load() == 0 {
		return 0 // the common path: a load, no write
	}
	return r.fails.Swap(0)
}

// Signs says whether libcrypto makes the key's signatures now: under Required always (nothing
// else does); in auto when no failure is unanswered.
func (r *Retry) Signs() bool { return r.Required || r.fails.Load() == 0 }
