package sso

import (
	"context"
	"errors"
	"time"
)

// Device authorization grant (RFC 8628) persistence.

// DeviceState is where a device authorization is in its life.
type DeviceState string

const (
	DevicePending  DeviceState = "pending"  // waiting for the member at /device
	DeviceApproved DeviceState = "approved" // the member signed in and allowed it; tokens not yet issued
	DeviceDenied   DeviceState = "denied"   // the member denied it
	DeviceConsumed DeviceState = "consumed" // tokens were issued: the device code is spent
)

// DevicePollTolerance: a poll counts as too fast when it comes less than Interval minus
// Interval/DevicePollTolerance after the previous one, so that a device polling on time is not
// told to slow down because one request travelled faster than the one before.
const DevicePollTolerance = 5

// ErrSlowDown is returned by PollDeviceAuthorization when the device polled again before its
// interval had passed (RFC 8628 section 3.5).
var ErrSlowDown = errors.New("sso store: device polled too fast")

// DeviceAuthorization is one device flow. Only the SHA-256 of the device code is stored; the
// user code is stored normalised (NormalizeUserCode) and is unique among live authorizations.
type DeviceAuthorization struct {
	DeviceCodeHash string
	UserCode       string
	ClientID       string
	Scopes         []string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	// Interval is the minimum time between two polls; every slow_down adds 5 s.
	Interval   time.Duration
	LastPolled time.Time
	State      DeviceState
	// Resources are the resource indicators (RFC 8707) the device authorization request named,
	// each one of the client's audiences: they bind the grant (its family's Audience), and its
	// access tokens are for them, or a subset a token request names. Empty: none named there.
	Resources []string

	// Set when the member approves.
	Subject   string
	AuthTime  time.Time
	AMR       []string
	SessionID string
}

// DeviceConsumption is the device authorization a device grant redeems (Issue.ConsumeDevice):
// in IssueTokens' transaction, before anything else is written, the authorization of ClientID
// whose device code hashes to DeviceCodeHash moves from approved to consumed if it has not
// expired at Now (the store's clock when zero), as ConsumeDeviceAuthorization does
// (compare-and-set). When that changes nothing, IssueTokens writes nothing and returns
// ErrNotFound (unknown, another client's, expired, or not approved: consumed by a concurrent
// poll, denied, pending). An authorization approved in a session the store holds as ended or
// expired (at Now), or no longer holds (purged), is not consumed either: nothing is written and the answer is ErrSessionEnded (the caller closes
// the authorization, ConsumeDeviceAuthorization). That check is part of the compare-and-set,
// so a session end racing the grant either comes first (refused) or after (the end then finds
// the grant's family and revokes it as it revokes the session's others), as a code's does.
type DeviceConsumption struct {
	DeviceCodeHash string
	ClientID       string
	Now            time.Time
}

// DeviceStore keeps device authorizations. A store that implements it enables the device
// authorization grant.
type DeviceStore interface {
	// CreateDeviceAuthorization inserts a pending authorization. It returns ErrConflict when
	// the user code is held by another authorization that has not expired (an expired one is
	// replaced), or when the device code hash exists.
	CreateDeviceAuthorization(ctx context.Context, d *DeviceAuthorization) error
	// DeviceAuthorizationByUserCode returns the authorization by normalised user code, in any
	// state; ErrNotFound when unknown or expired.
	DeviceAuthorizationByUserCode(ctx context.Context, userCode string) (*DeviceAuthorization, error)
	// DecideDeviceAuthorization moves a pending, unexpired authorization to approved (with the
	// member's subject, auth time, amr and session from c) or denied. ErrNotFound when unknown,
	// expired or no longer pending.
	DecideDeviceAuthorization(ctx context.Context, userCode string, approve bool, c Completion, now time.Time) error
	// PollDeviceAuthorization records a poll by the device of client clientID at now and
	// returns the authorization as it was before the poll, in one transaction:
	//   - unknown device code hash: ErrNotFound (an expired one is still returned until purged,
	//     so the caller can answer expired_token);
	//   - a device code issued to another client: ErrNotFound, and nothing is recorded (one
	//     client's polls must not slow down, consume or otherwise change another's code);
	//   - pending or approved, polled less than Interval after the previous poll (less a
	//     DevicePollTolerance-th of it, for network jitter): Interval grows by 5 s, LastPolled
	//     becomes now, and the error is ErrSlowDown (the returned value has the new interval);
	//     a consumed, denied or expired authorization is final and never answers ErrSlowDown;
	//   - otherwise LastPolled becomes now. The state does not change: an approved
	//     authorization stays approved until ConsumeDeviceAuthorization, so a poll the provider
	//     cannot answer with tokens (the AMS unreachable) leaves it for the next poll.
	PollDeviceAuthorization(ctx context.Context, deviceCodeHash, clientID string, now time.Time) (*DeviceAuthorization, error)
	// ConsumeDeviceAuthorization moves an approved, unexpired authorization of client
	// clientID to consumed (compare-and-set), whatever its session: the provider closes a
	// refused authorization with it (a grant redeems one in IssueTokens, Issue.ConsumeDevice).
	// ErrNotFound when unknown, another client's, expired or not approved (consumed by a
	// concurrent poll, denied).
	ConsumeDeviceAuthorization(ctx context.Context, deviceCodeHash, clientID string, now time.Time) error
	// PurgeDeviceAuthorizations deletes authorizations that expired before before and returns
	// how many.
	PurgeDeviceAuthorizations(ctx context.Context, before time.Time) (int64, error)
}
