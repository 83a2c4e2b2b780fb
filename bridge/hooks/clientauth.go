package hooks

import (
	"context"
	"net"
	"net/http"
	"time"
)

// The protocol endpoints run in sso, which does not know the bridge's idea of the client IP
// (trusted proxies): the router puts it in the request context, where the audit hook and the
// client-authentication throttle find it.

// ClientIP is the client IP of the protocol request behind ctx ("" outside one): the one
// WithProtocolRequest put there.
func ClientIP(ctx context.Context) string {
	if r := protocolRequestFrom(ctx); r != nil {
		return r.ip
	}
	return ""
}

// clientThrottleKey counts failures per client and IP together: a client's own servers keep
// working while someone elsewhere guesses its secret (per IP counts every client).
func clientThrottleKey(clientID, ip string) string { return "client:" + clientID + "|" + ip }

// ClientAuthAttempt implements sso.ClientAuthLimiter with the login throttle's limits
// (throttle.per_login per client and IP, throttle.per_ip per IP) on its own counters.
func (h *Hooks) ClientAuthAttempt(r *http.Request, clientID string) (time.Duration, error) {
	key, ip := h.clientKey(r, clientID)
	_, retryAfter, err := h.ClientThrottle.Check(r.Context(), key, ip)
	return retryAfter, err
}

// ClientAuthResult implements sso.ClientAuthLimiter: a success takes its reservation back.
func (h *Hooks) ClientAuthResult(r *http.Request, clientID string, ok bool) {
	if ok {
		key, ip := h.clientKey(r, clientID)
		// A reservation the counters could not take back stays counted: the safe side.
		_ = h.ClientThrottle.Release(r.Context(), key, ip)
	}
}

// clientKey is clientThrottleKey of clientID and r's client IP, and the IP. On a protocol
// request the key is built once and kept with the request's IP (ClientAuthAttempt and then
// ClientAuthResult ask for the same one), instead of once per call.
func (h *Hooks) clientKey(r *http.Request, clientID string) (key, ip string) {
	pr := protocolRequestFrom(r.Context())
	if pr == nil || pr.ip == "" {
		ip = h.ip(r)
		return clientThrottleKey(clientID, ip), ip
	}
	pr.memo.mu.Lock()
	defer pr.memo.mu.Unlock()
	if pr.keyClient != clientID || pr.clientKey == "" {
		pr.keyClient, pr.clientKey = clientID, clientThrottleKey(clientID, pr.ip)
	}
	return pr.clientKey, pr.ip
}

func (h *Hooks) ip(r *http.Request) string {
	if ip := ClientIP(r.Context()); ip != "" {
		return ip
	}
	if h.RequestIP != nil {
		return h.RequestIP(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
