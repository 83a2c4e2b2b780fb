package outbox

import "time"

// FailingClients is how many clients the queue keeps off its last free worker.
func (q *Queue) FailingClients() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.failing)
}

// Waiting is how many sign-ins (DeliverKey) wait for a place among client's deliveries.
func (q *Queue) Waiting(client string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.waiting[client]
}

// InFlight is how many of client's deliveries the queue counts in flight.
func (q *Queue) InFlight(client string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.busy[client]
}

// SetRecheck sets when a waiting sign-in looks at the store again on its own (DeliverKey):
// after first, then twice as late each time up to most.
func (q *Queue) SetRecheck(first, most time.Duration) {
	q.recheckFirst, q.recheckMax = first, most
}

// HasTurn reports whether a place of client freed by a sign-in is held for the queue's next
// look (Queue.turn).
func (q *Queue) HasTurn(client string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.turn[client]
	return ok
}

// WakeChannels is how many clients have a wake-up channel for sign-ins waiting in DeliverKey
// (Queue.ended).
func (q *Queue) WakeChannels() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ended)
}
