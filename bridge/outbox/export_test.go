package outbox

// FailingClients is how many clients the queue keeps off its last free worker.
func (q *Queue) FailingClients() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.failing)
}
