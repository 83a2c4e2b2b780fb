//go:build unix

package sqlite

import (
	"errors"
	"os"
	"sync"
	"syscall"
)

// pollTurn (see pollturn.go) is a pipe: a wait writes one byte into it and parks on its read
// end until the runtime's network poll finds the byte.
type pollTurn struct {
	mu      sync.Mutex
	r, w    *os.File
	rc, wc  syscall.RawConn // r's and w's, used without Go's own first try
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr)
	wrote   bool  // this wait's byte is written (read)
	err     error // this wait's write or read error
	closed  bool
	failed  bool // the pipe could not be made: leaders do not wait
}

// wait writes one byte into the pipe and parks until the scheduler's next network poll finds
// it (or returns at once when the pipe cannot be had). Only the queue's leader calls it, one
// at a time.
func (p *pollTurn) wait() error {
	p.mu.Lock()
	if p.closed || p.failed {
		p.mu.Unlock()
		return errPollClosed
	}
	if p.r == nil {
		if err := p.open(); err != nil {
			p.failed = true
			p.mu.Unlock()
			return err
		}
	}
	rc := p.rc
	p.mu.Unlock()
	p.wrote, p.err = false, nil
	err := rc.Read(p.readFn)
	return errors.Join(err, p.err)
}

// open makes the pipe (p.mu held).
func (p *pollTurn) open() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	rc, err := r.SyscallConn()
	var wc syscall.RawConn
	if err == nil {
		wc, err = w.SyscallConn()
	}
	if err != nil {
		return errors.Join(err, r.Close(), w.Close())
	}
	p.r, p.w, p.rc, p.wc = r, w, rc, wc
	p.readFn, p.writeFn = p.read, p.write
	return nil
}

// read is rc.Read's function (readFn). Its first call writes the byte and returns false, so
// the leader parks: rc.Read has already cleared the read end's readiness (prepareRead) by then,
// so a poll that finds the byte before the leader parks is kept and the park returns at once.
// Its next calls read the byte (false again when a wake-up finds none yet).
func (p *pollTurn) read(fd uintptr) bool {
	if !p.wrote {
		p.wrote = true
		if err := p.wc.Control(p.writeFn); err != nil && p.err == nil {
			p.err = err
		}
		return p.err != nil // a byte that could not be written is never found: do not park
	}
	var b [1]byte
	_, err := syscall.Read(int(fd), b[:])
	if err == syscall.EAGAIN {
		return false
	}
	p.err = err
	return true
}

// write is the write end's Control function (writeFn): the wait's one byte.
func (p *pollTurn) write(fd uintptr) {
	one := [1]byte{0}
	if _, err := syscall.Write(int(fd), one[:]); err != nil {
		p.err = err
	}
}

// close closes the pipe (a leader waiting on it returns with an error).
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
	return errors.Join(p.w.Close(), p.r.Close())
}
