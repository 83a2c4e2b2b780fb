package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// BenchmarkClaimEventsBacklog is sqlite's BenchmarkClaimEventsBacklog on PostgreSQL: one claim
// (Limit 1, the queue's) and its release, with a backlog of n due events of distinct members of
// three clients, two of which have an event in flight. Wall time per claim, the server's work
// included (run it against a baseline in the same run: the machine is noisy).
func BenchmarkClaimEventsBacklog(b *testing.B) {
	for _, n := range []int{100, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s, _ := openTest(b)
			ctx := b.Context()
			var evs []*store.OutboxEvent
			for i := range n {
				c := fmt.Sprint("c", i%3)
				evs = append(evs, &store.OutboxEvent{ID: fmt.Sprint("e", i), Key: fmt.Sprint(c, "/m", i), Type: "user.updated",
					Channel: "scim", ClientID: c, Subject: fmt.Sprint("m", i), Payload: []byte(`{}`)})
			}
			if err := s.Enqueue(ctx, evs...); err != nil {
				b.Fatal(err)
			}
			now := time.Now().Add(time.Second) // every event due
			for range 2 {                      // two clients busy
				if _, err := s.ClaimEvents(ctx, store.Claim{Now: now, Lease: time.Hour, Limit: 1}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				at := now.Add(time.Duration(i+1) * time.Microsecond)
				l, err := s.ClaimEvents(ctx, store.Claim{Now: at, Lease: time.Minute, Limit: 1})
				if err != nil || len(l) != 1 {
					b.Fatal(len(l), err)
				}
				if err := s.MarkFailed(ctx, l[0].ID, l[0].LeaseUntil, at, "x", false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClaimEventsRetrying is BenchmarkClaimEventsBacklog with, besides 100 due events, n
// events of one more client that all failed and wait to retry: the claim finds each client's
// first due head without walking them (outbox_client_due), so its cost does not grow with n.
func BenchmarkClaimEventsRetrying(b *testing.B) {
	for _, n := range []int{0, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s, _ := openTest(b)
			ctx := b.Context()
			now := time.Now().Add(time.Second) // every event due but the retrying ones
			var evs []*store.OutboxEvent
			for i := range n {
				evs = append(evs, &store.OutboxEvent{ID: fmt.Sprint("r", i), Key: fmt.Sprint("retrying/m", i), Type: "user.updated",
					Channel: "scim", ClientID: "retrying", Subject: fmt.Sprint("m", i), Payload: []byte(`{}`), NextAttempt: now.Add(time.Hour)})
			}
			for i := range 100 {
				c := fmt.Sprint("c", i%3)
				evs = append(evs, &store.OutboxEvent{ID: fmt.Sprint("e", i), Key: fmt.Sprint(c, "/m", i), Type: "user.updated",
					Channel: "scim", ClientID: c, Subject: fmt.Sprint("m", i), Payload: []byte(`{}`)})
			}
			if err := s.Enqueue(ctx, evs...); err != nil {
				b.Fatal(err)
			}
			for range 2 { // two clients busy
				if _, err := s.ClaimEvents(ctx, store.Claim{Now: now, Lease: time.Hour, Limit: 1}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				at := now.Add(time.Duration(i+1) * time.Microsecond)
				l, err := s.ClaimEvents(ctx, store.Claim{Now: at, Lease: time.Minute, Limit: 1})
				if err != nil || len(l) != 1 || l[0].ClientID == "retrying" {
					b.Fatal(len(l), err)
				}
				if err := s.MarkFailed(ctx, l[0].ID, l[0].LeaseUntil, at, "x", false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
