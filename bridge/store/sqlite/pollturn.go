package sqlite

import (
	"errors"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
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
// requests whose bytes have arrived meanwhile join its batch: it parks on the read end of a
// pipe whose other end a helper goroutine writes once the leader has parked. The runtime
// finds the pipe readable only when it polls the network, together with every connection that
// became readable by then; the leader then yields once more so that the requests readied by
// that poll (queued behind it in the poll's order, too) reach the write queue before it takes
// its batch. Nothing is waited for that the processor could have spent otherwise: the leader
// resumes as soon as the processor has nothing else to run. It costs three system calls per
// batch (the helper's write, the leader's read that finds the pipe empty, and the one that
// reads the byte), so a leader waits only when the previous batch held more than one write
// (waitPoll): a store written to by one request at a time never waits.
type pollTurn struct {
	mu     sync.Mutex
	r, w   *os.File
	rc     syscall.RawConn // r's, read without Go's first try (wait)
	readFn func(fd uintptr) bool
	parked bool          // the leader's wait has parked once (read)
	rerr   error         // the read's error
	kick   chan struct{} // capacity 1: the leader asks the helper for one byte
	stop   chan struct{}
	done   chan struct{}
	closed bool
	failed bool // the pipe could not be made: leaders do not wait
}

// errPollClosed is a wait on a closed pollTurn.
var errPollClosed = errors.New("sqlite: poll turn closed")

// wait parks until the scheduler's next network poll (or returns at once when the pipe cannot
// be had). Only the queue's leader calls it, one at a time.
func (p *pollTurn) wait() error {
	p.mu.Lock()
	if p.closed || p.failed {
		p.mu.Unlock()
		return errPollClosed
	}
	if p.r == nil {
		r, w, err := os.Pipe()
		if err != nil {
			p.failed = true
			p.mu.Unlock()
			return err
		}
		rc, err := r.SyscallConn()
		if err != nil {
			r.Close()
			w.Close()
			p.failed = true
			p.mu.Unlock()
			return err
		}
		p.r, p.w, p.rc, p.readFn = r, w, rc, p.read
		p.kick, p.stop, p.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
		go p.run(w, p.kick, p.stop, p.done)
	}
	rc, kick := p.rc, p.kick
	p.mu.Unlock()

	select {
	case kick <- struct{}{}:
	default: // cannot happen (one leader; each kick's byte is read before the next kick)
	}
	// Park first, read once woken: the pipe is empty until the helper runs (a read before
	// parking, which os.File.Read would do, only finds it so).
	p.parked, p.rerr = false, nil
	err := rc.Read(p.readFn)
	return errors.Join(err, p.rerr)
}

// read is rc.Read's function (readFn): false, without reading, the first time (park), then one
// read of the helper's byte.
func (p *pollTurn) read(fd uintptr) bool {
	if !p.parked {
		p.parked = true
		return false
	}
	var b [1]byte
	_, p.rerr = syscall.Read(int(fd), b[:])
	return p.rerr != syscall.EAGAIN
}

// run is the helper: one byte for each kick, written once the leader that kicked has parked
// (with one processor the helper runs only then).
func (p *pollTurn) run(w *os.File, kick, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	one := []byte{0}
	for {
		select {
		case <-stop:
			return
		case <-kick:
			if _, err := w.Write(one); err != nil {
				return
			}
		}
	}
}

// close stops the helper and closes the pipe (a leader waiting on it returns).
func (p *pollTurn) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	if p.r == nil {
		return nil
	}
	close(p.stop)
	<-p.done
	return errors.Join(p.w.Close(), p.r.Close())
}

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
