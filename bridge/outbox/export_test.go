package outbox

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
