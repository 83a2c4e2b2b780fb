package identity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// SubjectMapper derives opaque, stable subjects from the AMS's immutable member key (legacy.Member.Key) (an HMAC
// under a per-installation secret, so subjects neither leak the AMS's keys nor change when a
// login or e-mail changes) and maps them back through the store.
type SubjectMapper struct {
	key   []byte
	store store.SubjectStore
	macs  sync.Pool // *subjectMAC keyed with key

	mu     sync.RWMutex
	cache  map[string]string // subject -> member key
	logins map[string]string // subject -> login last stored
}

// NewSubjectMapper derives subjects under key and stores them in st.
func NewSubjectMapper(key []byte, st store.SubjectStore) *SubjectMapper {
	m := &SubjectMapper{key: key, store: st, cache: map[string]string{}, logins: map[string]string{}}
	m.macs.New = func() any { return &subjectMAC{h: hmac.New(sha256.New, m.key), buf: make([]byte, 0, 64)} }
	return m
}

// subjectMAC is a keyed HMAC kept for Subject with a buffer for its input and sum (a slice
// handed to a hash through its interface escapes: kept with it, it is not allocated per call).
// Keying an HMAC costs two SHA-256 blocks and a dozen allocations; a sign-in derives the
// subject two or three times.
type subjectMAC struct {
	h   hash.Hash
	buf []byte
}

// Subject returns the subject for a member key (case-insensitive GUID text).
func (m *SubjectMapper) Subject(memberKey string) string {
	sm := m.macs.Get().(*subjectMAC)
	defer m.macs.Put(sm)
	sm.h.Reset()
	sm.buf = append(append(sm.buf[:0], "sub:"...), strings.ToUpper(strings.TrimSpace(memberKey))...)
	sm.h.Write(sm.buf)
	sm.buf = sm.h.Sum(sm.buf[:0])
	var out [40]byte
	hex.Encode(out[:], sm.buf[:20])
	return string(out[:])
}

// Remember stores the mapping (and the login for admin listings). The mapping never changes, so
// it is written once per process and login; later sign-ins cost no write.
func (m *SubjectMapper) Remember(ctx context.Context, memberKey, login string, now time.Time) (string, error) {
	sub := m.Subject(memberKey)
	m.mu.RLock()
	known := m.cache[sub] == memberKey && m.logins[sub] == login
	m.mu.RUnlock()
	if known {
		return sub, nil
	}
	if err := m.store.PutSubject(ctx, &store.Subject{Subject: sub, MemberKey: memberKey, Login: login, FirstSeen: now, LastSeen: now}); err != nil {
		return "", fmt.Errorf("remember subject: %w", err)
	}
	m.put(sub, memberKey)
	m.mu.Lock()
	m.logins[sub] = login
	m.mu.Unlock()
	return sub, nil
}

func (m *SubjectMapper) put(sub, key string) {
	m.mu.Lock()
	if len(m.cache) > 100_000 {
		m.cache, m.logins = map[string]string{}, map[string]string{}
	}
	m.cache[sub] = key
	m.mu.Unlock()
}

// MemberKey maps a subject back to the AMS contact key.
func (m *SubjectMapper) MemberKey(ctx context.Context, sub string) (string, error) {
	m.mu.RLock()
	k, ok := m.cache[sub]
	m.mu.RUnlock()
	if ok {
		return k, nil
	}
	rec, err := m.store.SubjectByID(ctx, sub)
	if err != nil {
		return "", fmt.Errorf("subject %s: %w", sub, err)
	}
	m.put(sub, rec.MemberKey)
	return rec.MemberKey, nil
}
