package memstore

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// deviceSlowDownStep is what RFC 8628 section 3.5 adds to the interval on every slow_down.
const deviceSlowDownStep = 5 * time.Second

func cloneDevice(d *sso.DeviceAuthorization) *sso.DeviceAuthorization {
	c := *d
	c.Scopes, c.AMR, c.Resources = slices.Clone(d.Scopes), slices.Clone(d.AMR), slices.Clone(d.Resources)
	return &c
}

// CreateDeviceAuthorization inserts a pending device authorization; an expired one holding the
// same user code is replaced, a live one is sso.ErrConflict.
func (s *Store) CreateDeviceAuthorization(_ context.Context, d *sso.DeviceAuthorization) error {
	if d.DeviceCodeHash == "" || d.UserCode == "" {
		return errors.New("memstore: create device authorization: empty device code hash or user code")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	if hash, ok := s.userCodes[d.UserCode]; ok {
		if live(s.devices[hash].ExpiresAt, now) {
			return errf("create device authorization", sso.ErrConflict)
		}
		delete(s.devices, hash)
		delete(s.userCodes, d.UserCode)
	}
	if _, ok := s.devices[d.DeviceCodeHash]; ok {
		return errf("create device authorization", sso.ErrConflict)
	}
	c := cloneDevice(d)
	if c.State == "" {
		c.State = sso.DevicePending
	}
	c.CreatedAt = orNow(c.CreatedAt, now)
	s.devices[c.DeviceCodeHash] = c
	s.userCodes[c.UserCode] = c.DeviceCodeHash
	return nil
}

// DeviceAuthorizationByUserCode returns the authorization by user code; sso.ErrNotFound when
// unknown or expired.
func (s *Store) DeviceAuthorizationByUserCode(_ context.Context, userCode string) (*sso.DeviceAuthorization, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[s.userCodes[userCode]]
	if !ok || !live(d.ExpiresAt, s.clock()) {
		return nil, errf("device authorization", sso.ErrNotFound)
	}
	return cloneDevice(d), nil
}

// DecideDeviceAuthorization approves or denies a pending, unexpired authorization.
func (s *Store) DecideDeviceAuthorization(_ context.Context, userCode string, approve bool, c sso.Completion, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[s.userCodes[userCode]]
	if !ok || d.State != sso.DevicePending || !live(d.ExpiresAt, now) {
		return errf("decide device authorization", sso.ErrNotFound)
	}
	if !approve {
		d.State = sso.DeviceDenied
		return nil
	}
	d.State, d.Subject, d.AuthTime, d.AMR, d.SessionID = sso.DeviceApproved, c.Subject, c.AuthTime, slices.Clone(c.AMR), c.SessionID
	return nil
}

// PollDeviceAuthorization records a poll (see sso.DeviceStore); another client's device code
// is not found and not touched.
func (s *Store) PollDeviceAuthorization(_ context.Context, deviceCodeHash, clientID string, now time.Time) (*sso.DeviceAuthorization, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[deviceCodeHash]
	if !ok || d.ClientID != clientID {
		return nil, errf("poll device authorization", sso.ErrNotFound)
	}
	final := d.State == sso.DeviceConsumed || d.State == sso.DeviceDenied || !now.Before(d.ExpiresAt)
	if !final && !d.LastPolled.IsZero() && now.Sub(d.LastPolled) < d.Interval-d.Interval/sso.DevicePollTolerance {
		d.Interval += deviceSlowDownStep
		out := cloneDevice(d)
		d.LastPolled = now
		return out, errf("poll device authorization", sso.ErrSlowDown)
	}
	out := cloneDevice(d)
	d.LastPolled = now
	return out, nil
}

// ConsumeDeviceAuthorization moves an approved, unexpired authorization to consumed.
func (s *Store) ConsumeDeviceAuthorization(_ context.Context, deviceCodeHash, clientID string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[deviceCodeHash]
	if !ok || d.ClientID != clientID || d.State != sso.DeviceApproved || !now.Before(d.ExpiresAt) {
		return errf("consume device authorization", sso.ErrNotFound)
	}
	d.State = sso.DeviceConsumed
	return nil
}

// PurgeDeviceAuthorizations deletes authorizations that expired before before.
func (s *Store) PurgeDeviceAuthorizations(_ context.Context, before time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for hash, d := range s.devices {
		if !live(d.ExpiresAt, before) {
			delete(s.devices, hash)
			delete(s.userCodes, d.UserCode)
			n++
		}
	}
	return n, nil
}
