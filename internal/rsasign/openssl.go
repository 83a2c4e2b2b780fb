//go:build cgo && linux

package rsasign

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

typedef void ssob_pkey;
typedef void ssob_ctx;
typedef void ssob_md;

typedef struct {
	unsigned long (*version_num)(void);
	ssob_pkey *(*d2i_private_key)(int, ssob_pkey **, const unsigned char **, long);
	ssob_ctx *(*ctx_new)(ssob_pkey *, void *);
	int (*sign_init)(ssob_ctx *);
	int (*set_rsa_padding)(ssob_ctx *, int);
	int (*set_signature_md)(ssob_ctx *, const ssob_md *);
	const ssob_md *(*sha256)(void);
	int (*sign)(ssob_ctx *, unsigned char *, size_t *, const unsigned char *, size_t);
	void (*ctx_free)(ssob_ctx *);
	void (*pkey_free)(ssob_pkey *);
	unsigned long (*err_get)(void);
	void (*err_clear)(void);
} ssob_fns;

// ssob_open loads libcrypto and fills *f with the functions Sign needs. It returns 0 and
// names what was missing in *missing.
static int ssob_open(const char *lib, ssob_fns *f, const char **missing) {
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		*missing = lib;
		return 0;
	}
#define SSOB_SYM(field, name) \
	if ((*(void **)(&f->field) = dlsym(h, name)) == NULL) { *missing = name; return 0; }
	SSOB_SYM(version_num, "OpenSSL_version_num")
	SSOB_SYM(d2i_private_key, "d2i_PrivateKey")
	SSOB_SYM(ctx_new, "EVP_PKEY_CTX_new")
	SSOB_SYM(sign_init, "EVP_PKEY_sign_init")
	SSOB_SYM(set_rsa_padding, "EVP_PKEY_CTX_set_rsa_padding")
	SSOB_SYM(set_signature_md, "EVP_PKEY_CTX_set_signature_md")
	SSOB_SYM(sha256, "EVP_sha256")
	SSOB_SYM(sign, "EVP_PKEY_sign")
	SSOB_SYM(ctx_free, "EVP_PKEY_CTX_free")
	SSOB_SYM(pkey_free, "EVP_PKEY_free")
	SSOB_SYM(err_get, "ERR_get_error")
	SSOB_SYM(err_clear, "ERR_clear_error")
#undef SSOB_SYM
	return 1;
}

static unsigned long ssob_version(const ssob_fns *f) { return f->version_num(); }

// ssob_fail takes this thread's first OpenSSL error and clears the queue, so that nothing is
// left for the next call that runs on the thread.
static unsigned long ssob_fail(const ssob_fns *f) {
	unsigned long e = f->err_get();
	f->err_clear();
	return e == 0 ? 1 : e;
}

static ssob_pkey *ssob_key(const ssob_fns *f, const unsigned char *der, long n, unsigned long *err) {
	const unsigned char *p = der;
	f->err_clear(); // an error left on this thread by an earlier call is not this call's
	ssob_pkey *k = f->d2i_private_key(6, NULL, &p, n); // EVP_PKEY_RSA
	if (k == NULL) {
		*err = ssob_fail(f);
	}
	return k;
}

// ssob_ctx_new prepares a signing context: PKCS #1 v1.5 padding, SHA-256.
static ssob_ctx *ssob_ctx_new(const ssob_fns *f, ssob_pkey *k, unsigned long *err) {
	f->err_clear();
	ssob_ctx *c = f->ctx_new(k, NULL);
	if (c == NULL) {
		*err = ssob_fail(f);
		return NULL;
	}
	if (f->sign_init(c) != 1 || f->set_rsa_padding(c, 1) != 1 || f->set_signature_md(c, f->sha256()) != 1) {
		*err = ssob_fail(f);
		f->ctx_free(c);
		return NULL;
	}
	return c;
}

static int ssob_sign(const ssob_fns *f, ssob_ctx *c, unsigned char *sig, size_t *siglen,
		const unsigned char *digest, size_t n, unsigned long *err) {
	f->err_clear();
	if (f->sign(c, sig, siglen, digest, n) != 1) {
		*err = ssob_fail(f);
		return 0;
	}
	return 1;
}

static void ssob_ctx_free(const ssob_fns *f, ssob_ctx *c) { f->ctx_free(c); }
static void ssob_pkey_free(const ssob_fns *f, ssob_pkey *k) { f->pkey_free(k); }
*/
import "C"

import (
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// CanOpen says whether this build can open libcrypto at all (cgo, Linux): where it can, Open
// fails only on a machine without OpenSSL 3.
const CanOpen = true

// libName is the soname of OpenSSL 3's libcrypto (Debian's libssl3 and every OpenSSL 3.x).
const libName = "libcrypto.so.3"

// Library is an opened libcrypto. Opening it again returns the same library (dlopen counts
// references); it is never closed, as the keys it made may outlive any one owner.
type Library struct {
	// fns is in Go's heap (it holds only C function pointers, so C may be handed it on every
	// call): collected with the Library, where a calloc'd copy leaked with each Open.
	fns     *C.ssob_fns
	version uint64
	// running admits one signature per processor Go runs on (runtime.GOMAXPROCS, which
	// follows the CPU affinity and a cgroup's CPU limit; acquire re-reads it, so a limit
	// changed while serving resizes the gate):
	// libcrypto's signature holds its thread for its whole 0.3 ms, so more at once would only
	// add threads (the runtime starts one for Go code each time a signature keeps a processor
	// past sysmon's limit), each with its stack and its OpenSSL context, all sharing the same
	// processors.
	running atomic.Pointer[chan struct{}]
}

// Open loads libcrypto 3 (ErrUnavailable, wrapped with the reason, when it cannot).
func Open() (*Library, error) {
	name := C.CString(libName)
	defer C.free(unsafe.Pointer(name))
	var missing *C.char
	fns := new(C.ssob_fns)
	if C.ssob_open(name, fns, &missing) == 0 {
		return nil, fmt.Errorf("%w: %s not found", ErrUnavailable, C.GoString(missing))
	}
	v := uint64(C.ssob_version(fns))
	if v < 0x30000000 {
		return nil, fmt.Errorf("%w: version %#x is older than 3.0", ErrUnavailable, v)
	}
	l := &Library{fns: fns, version: v}
	gate := make(chan struct{}, runtime.GOMAXPROCS(0))
	l.running.Store(&gate)
	return l, nil
}

// acquire waits for a turn to sign and returns the gate to release it to (<-gate). When
// GOMAXPROCS has changed since the gate was made, a gate of the new size replaces it; the
// signatures admitted by the old one finish and release into it, so for that moment up to both
// sizes run at once.
func (l *Library) acquire() chan struct{} {
	p := l.running.Load()
	if n := runtime.GOMAXPROCS(0); cap(*p) != n {
		gate := make(chan struct{}, n)
		if !l.running.CompareAndSwap(p, &gate) {
			return l.acquire() // another signature resized it first
		}
		p = &gate
	}
	gate := *p
	gate <- struct{}{}
	return gate
}

// Version is the library's OPENSSL_VERSION_NUMBER (0xMNN00PP0L: major, minor, patch).
func (l *Library) Version() string {
	return fmt.Sprintf("%d.%d.%d", l.version>>28, (l.version>>20)&0xff, (l.version>>4)&0xffff)
}

// Key is a private key loaded into libcrypto. Its Sign is safe for concurrent use.
type Key struct {
	st  *keyState
	pub rsa.PublicKey
}

// keyState is what a Key's cleanup frees: kept apart from Key so that the cleanup does not
// keep the Key reachable.
type keyState struct {
	lib  *Library
	pkey unsafe.Pointer
	idle chan unsafe.Pointer // prepared contexts
}

// Load copies priv into libcrypto. The key's DER is wiped once libcrypto has read it;
// libcrypto wipes its copy when the Key is collected.
func (l *Library) Load(priv *rsa.PrivateKey) (*Key, error) {
	if err := priv.Validate(); err != nil {
		return nil, fmt.Errorf("rsasign: %w", err)
	}
	der := x509.MarshalPKCS1PrivateKey(priv)
	defer clear(der)
	var cerr C.ulong
	p := C.ssob_key(l.fns, (*C.uchar)(unsafe.Pointer(&der[0])), C.long(len(der)), &cerr)
	if p == nil {
		return nil, fmt.Errorf("rsasign: libcrypto refused the key (error %#x)", uint64(cerr))
	}
	st := &keyState{lib: l, pkey: p, idle: make(chan unsafe.Pointer, maxIdle)}
	k := &Key{st: st, pub: priv.PublicKey}
	runtime.AddCleanup(k, func(st *keyState) { st.free() }, st)
	return k, nil
}

func (st *keyState) free() {
	for {
		select {
		case c := <-st.idle:
			C.ssob_ctx_free(st.lib.fns, c)
		default:
			C.ssob_pkey_free(st.lib.fns, st.pkey)
			return
		}
	}
}

// Sign returns the RS256 signature of a SHA-256 digest, checked against the public key.
func (k *Key) Sign(digest []byte) ([]byte, error) {
	defer runtime.KeepAlive(k) // the cleanup must not free the key while libcrypto uses it
	if len(digest) != DigestSize {
		return nil, fmt.Errorf("rsasign: digest is %d bytes, want %d", len(digest), DigestSize)
	}
	st := k.st
	gate := st.lib.acquire()
	defer func() { <-gate }()
	var ctx unsafe.Pointer
	select {
	case ctx = <-st.idle:
	default:
		var cerr C.ulong
		ctx = C.ssob_ctx_new(st.lib.fns, st.pkey, &cerr)
		if ctx == nil {
			return nil, fmt.Errorf("rsasign: prepare signing (OpenSSL error %#x)", uint64(cerr))
		}
	}
	sig := make([]byte, k.pub.Size())
	n := C.size_t(len(sig))
	var cerr C.ulong
	if C.ssob_sign(st.lib.fns, ctx, (*C.uchar)(unsafe.Pointer(&sig[0])), &n,
		(*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest)), &cerr) != 1 {
		C.ssob_ctx_free(st.lib.fns, ctx) // a context that failed is not used again
		return nil, fmt.Errorf("rsasign: sign (OpenSSL error %#x)", uint64(cerr))
	}
	select {
	case st.idle <- ctx:
	default:
		C.ssob_ctx_free(st.lib.fns, ctx)
	}
	if int(n) != len(sig) {
		return nil, fmt.Errorf("rsasign: signature is %d bytes, want %d", int(n), len(sig))
	}
	if err := verify(&k.pub, digest, sig); err != nil {
		return nil, err
	}
	return sig, nil
}
