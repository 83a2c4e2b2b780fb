package sqlite

import (
	"errors"
	"runtime"
	"runtime/metrics"
)

// With one processor (GOMAXPROCS=1, the load runs), a request reaches the store's write queue
// only once the Go scheduler has polled the network for it, and it polls only when its run
// queues are empty (or sysmon's 10 ms poll, which queues what it finds behind the goroutines
// already runnable). A leader's runtime.Gosched therefore lets the requests of the same poll
// join its batch, never those whose bytes arrived while the requests of the batch before were
// still being signed: these wait in the kernel until every runnable goroutine has run, and then
// form their own batch. Concurrent refreshes split into groups that each pay a whole commit
// (BEGIN's and COMMIT's WAL locks, one fcntl each, and two pwrites per changed page), and the
// groups never merge again: at 16 concurrent refreshes a commit held about 7 writes.
//
// pollTurn is how a leader waits for the scheduler's next network poll instead, so that the
// requests whose bytes have arrived meanwhile join its batch: it writes one byte into a pipe
// and parks on the pipe's read end (pollturn_unix.go). The runtime finds the pipe readable
// only when it polls the network, together with every connection that became readable by
// then; the leader then yields once more so that the requests readied by that poll (queued
// behind it in the poll's order, too) reach the write queue before it takes its batch. Nothing
// is waited for that the processor could have spent otherwise: the leader resumes as soon as
// the processor has nothing else to run. It costs two system calls per wait (the write and the
// read of the byte), so a leader waits only when the previous batch held more than one write
// (waitPoll): a store written to by one request at a time never waits. Where there is no such
// pipe (not unix), leaders do not wait (pollturn_other.go).
// errPollClosed is a wait on a closed pollTurn, or where there is none.
var errPollClosed = errors.New("sqlite: poll turn closed")

// maxPollTurns bounds how many network polls a leader waits for (waitPoll): with a processor
// that never runs dry (a loaded server doing other work), sysmon's 10 ms polls are all it gets.
const maxPollTurns = 4

// runnableMetric is the runtime's count of goroutines ready to run but not running.
const runnableMetric = "/sched/goroutines/runnable:goroutines"

// waitPoll is what a new leader does before it takes its batch, after its first yield: with
// one processor, and when the previous batch held more than one write (writes come
// concurrently), it waits for the next network poll (pollTurn) and yields again, so that the
// requests that poll finds join its batch. A poll while other goroutines were runnable may be
// sysmon's, taken in the middle of the work queued before the leader: the leader then waits
// for the next one, until it parks with nothing else to run (the runtime then polls at once,
// and has run everything that was ready before), at most maxPollTurns times.
func (s *Store) waitPoll() {
	q := s.writes
	if q.lastBatch.Load() < 2 || runtime.GOMAXPROCS(0) != 1 {
		return
	}
	for range maxPollTurns {
		metrics.Read(q.runnable[:])
		idle := q.runnable[0].Value.Kind() == metrics.KindUint64 && q.runnable[0].Value.Uint64() == 0
		if q.poll.wait() != nil {
			return
		}
		q.polled.Add(1)
		runtime.Gosched()
		if idle {
			return
		}
	}
}
