package web

import (
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// LazyDeadlines wraps ln so that the read and write deadlines net/http sets on its connections
// cost no runtime timer: a deadline is recorded, and every tick a watchdog applies those that
// have passed to their connections (a read or write blocked on one then fails as it would at
// the deadline itself, up to a tick late). A deadline at or before the watchdog's latest tick
// when it is set (net/http's way to interrupt its background read: a time long past) is
// applied at once. Deadlines are measured on the monotonic clock, as net's own are: a step of
// the wall clock neither fires nor stretches them.
//
// Why: net/http sets a keep-alive connection's deadlines eight times per request when the
// server has timeouts (read header, read, write, idle: cmd/ssobridge sets all four), each a
// runtime timer started, moved or stopped with two clock reads, about 2,000 instructions per
// request (BenchmarkServerTimeouts); recorded, each is a clock-free store under the
// connection's own lock. What the timeouts stop (slow or idle clients holding connections) is
// unchanged, with deadlines enforced within a tick. Connections that are not TCP pass through
// unwrapped.
//
// Two more things save a read system call each per request, which on the load-run machine (a
// guest whose every system call switches page tables through the hypervisor) cost more than
// their share of a profile:
//   - net/http's background read (a 1-byte read started once a request's body is consumed, to
//     see the client leave or pipeline while the handler runs) parks in the connection instead
//     of reading, when the server has BackgroundReads as its ConnState hook: net/http interrupts it when the handler ends (a read deadline in the past),
//     and then it returns the timeout net/http expects without having read. A handler still
//     running two ticks after it parked gets the real read, so a long request (a slow AMS, a
//     sign-in slowed down) still sees its client leave, within two ticks.
//   - a read that follows a write on the connection (the next request's, after an answer)
//     lets the goroutines that are ready run first: under load the client's next request has
//     usually arrived by then and the read finds it, instead of a read that finds nothing and
//     waits for the network poller to wake it and read again. With nothing else ready it
//     reads at once.
func LazyDeadlines(ln net.Listener, tick time.Duration) net.Listener {
	l := &lazyListener{Listener: ln, tick: tick, base: time.Now(), conns: map[*lazyConn]struct{}{}, yield: runtime.Gosched}
	return l
}

// DeadlineTick is how often the server's watchdog applies the deadlines that have passed
// (LazyDeadlines): the server's timeouts (10 s and more) are enforced within it.
const DeadlineTick = 250 * time.Millisecond

type lazyListener struct {
	net.Listener
	tick time.Duration
	// ticks counts the watchdog's ticks: a background read parked at tick k is given its real
	// read at tick k+2.
	ticks atomic.Int64
	// yield runs before a read that follows a write (runtime.Gosched; tests count it).
	yield func()
	// parkedAborted counts background reads interrupted while parked (tests).
	parkedAborted atomic.Int64
	// base is when the listener was made: deadlines and ticks are kept as offsets from it on
	// the monotonic clock, as net's own deadlines are measured, so a step of the wall clock
	// (NTP, a VM resumed, date) neither fires nor stretches them.
	base time.Time
	// now is the offset of the watchdog's latest tick: a deadline at or before it (net/http's
	// aLongTimeAgo) is applied when it is set.
	now atomic.Int64
	mu  sync.Mutex
	// conns are the open connections; running: the watchdog runs (while there are any).
	conns   map[*lazyConn]struct{}
	running bool
}

func (l *lazyListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return conn, err
	}
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return conn, nil
	}
	c := &lazyConn{TCPConn: tc, l: l, rd: noDeadline, wd: noDeadline, bgWake: make(chan bgWake, 1)}
	l.mu.Lock()
	l.conns[c] = struct{}{}
	if !l.running {
		l.running = true
		l.now.Store(int64(time.Since(l.base)))
		go l.watch()
	}
	l.mu.Unlock()
	return c, nil
}

// watch applies the deadlines that have passed, every tick, while there are connections.
func (l *lazyListener) watch() {
	t := time.NewTicker(l.tick)
	defer t.Stop()
	for now := range t.C {
		n := int64(now.Sub(l.base))
		l.now.Store(n)
		k := l.ticks.Add(1)
		l.mu.Lock()
		if len(l.conns) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		for c := range l.conns {
			c.expire(n, k)
		}
		l.mu.Unlock()
	}
}

func (l *lazyListener) remove(c *lazyConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// lazyConn is a TCP connection whose deadlines are recorded and applied by the watchdog once
// passed (LazyDeadlines).
type lazyConn struct {
	*net.TCPConn
	l  *lazyListener
	mu sync.Mutex
	// rd, wd are the read and write deadlines set (offsets from l.base; noDeadline: none); rset, wset: the
	// connection itself has a deadline (applied by the watchdog or at once) to be cleared
	// when another is set.
	rd, wd     int64
	rset, wset bool
	// bg is where net/http's background read is: none running (bgNone), parked (bgParked) or
	// let by the watchdog to read for real (bgReading); bgTick is the tick it parked at; bgWake
	// wakes it once (capacity 1: one send per park).
	bg     bgState
	bgTick int64
	bgWake chan bgWake
	closed bool
	// wrote: the connection has been written to since its last read; active: net/http runs a
	// request on it (BackgroundReads).
	wrote, active atomic.Bool
}

// BackgroundReads returns the http.Server.ConnState hook that lets LazyDeadlines' connections
// park net/http's background read: it tells each connection while net/http runs a request on
// it (StateActive), the only time net/http reads a connection 1 byte at a time. Without it a
// connection reads as net's own. next, when not nil, is called after (the server's own hook).
// It assumes that nothing but net/http reads the connection while a request runs: a handler
// that took the connection over (Hijack) and read it a byte at a time would wait for the
// watchdog (no handler of the bridge does).
func BackgroundReads(next func(net.Conn, http.ConnState)) func(net.Conn, http.ConnState) {
	return func(conn net.Conn, state http.ConnState) {
		if c, ok := conn.(*lazyConn); ok {
			c.active.Store(state == http.StateActive)
		}
		if next != nil {
			next(conn, state)
		}
	}
}

type bgState uint8

const (
	bgNone bgState = iota
	bgParked
	bgReading
)

// bgWake is what ends a background read's park: net/http interrupted it (a timeout without a
// read), a watchdog tick let it read for real, or the connection was closed.
type bgWake uint8

const (
	wakeAbort bgWake = iota
	wakeRead
	wakeClosed
)

// Read reads from the connection; net/http's background read (a 1-byte read while a request
// runs: the server reads requests and bodies through a 4 KB buffer) parks instead, and a read
// after a write yields first (LazyDeadlines).
func (c *lazyConn) Read(p []byte) (int, error) {
	if len(p) == 1 && c.active.Load() {
		switch c.parkBackgroundRead() {
		case wakeAbort:
			c.l.parkedAborted.Add(1)
			return 0, c.readError(os.ErrDeadlineExceeded)
		case wakeClosed:
			return 0, c.readError(net.ErrClosed)
		}
		n, err := c.TCPConn.Read(p)
		c.mu.Lock()
		c.bg = bgNone
		c.mu.Unlock()
		return n, err
	}
	if c.wrote.Load() {
		c.wrote.Store(false)
		c.l.yield()
	}
	return c.TCPConn.Read(p)
}

func (c *lazyConn) Write(p []byte) (int, error) {
	c.wrote.Store(true)
	return c.TCPConn.Write(p)
}

// parkBackgroundRead parks a background read until net/http interrupts it, the watchdog lets it
// read (wakeRead) or the connection closes. A read deadline already past (net/http interrupted
// before the read began: a handler that did not yield) or a closed connection: wakeRead at
// once, and the real read returns its error without a system call.
func (c *lazyConn) parkBackgroundRead() bgWake {
	c.mu.Lock()
	if c.closed || c.rd <= c.l.now.Load() || c.bg != bgNone {
		c.mu.Unlock()
		return wakeRead
	}
	c.bg = bgParked
	c.bgTick = c.l.ticks.Load()
	c.mu.Unlock()
	return <-c.bgWake // wakeRead: the watchdog set c.bg to bgReading
}

// readError is the error a read of the connection returns for err, as net's own.
func (c *lazyConn) readError(err error) error {
	return &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// noDeadline is a deadline that never passes (the zero time: none).
const noDeadline = math.MaxInt64

// deadline is t as an offset from l.base on the monotonic clock when t has a monotonic reading
// (time.Now().Add: net/http's timeouts), else on the wall clock (aLongTimeAgo: long past);
// noDeadline for the zero time. Offsets beyond a Duration's range saturate (time.Time.Sub).
func (l *lazyListener) deadline(t time.Time) int64 {
	if t.IsZero() {
		return noDeadline
	}
	return int64(t.Sub(l.base))
}

func (c *lazyConn) SetReadDeadline(t time.Time) error {
	d := c.l.deadline(t)
	var err error
	c.mu.Lock()
	c.rd = d
	if d <= c.l.now.Load() {
		if c.bg == bgParked {
			// net/http interrupting its background read, which has not read: it returns the
			// timeout, and the connection itself needs no deadline (nothing reads it).
			c.bg = bgNone
			c.bgWake <- wakeAbort
		} else {
			c.rset = true
			err = c.TCPConn.SetReadDeadline(t)
		}
	} else if c.rset {
		c.rset = false
		err = c.TCPConn.SetReadDeadline(time.Time{})
	}
	c.mu.Unlock()
	return err
}

func (c *lazyConn) SetWriteDeadline(t time.Time) error {
	d := c.l.deadline(t)
	var err error
	c.mu.Lock()
	c.wd = d
	if d <= c.l.now.Load() {
		c.wset = true
		err = c.TCPConn.SetWriteDeadline(t)
	} else if c.wset {
		c.wset = false
		err = c.TCPConn.SetWriteDeadline(time.Time{})
	}
	c.mu.Unlock()
	return err
}

func (c *lazyConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// expire applies the deadlines passed at now (an offset from l.base) to the connection: a read or write
// blocked on it fails with os.ErrDeadlineExceeded, as at a deadline net's own timer applies. A
// background read parked since before the previous tick (tick is this one's number) reads for real.
func (c *lazyConn) expire(now, tick int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bg == bgParked && tick >= c.bgTick+2 {
		c.bg = bgReading
		c.bgWake <- wakeRead
	}
	if c.rd <= now && !c.rset {
		c.rset = true
		_ = c.TCPConn.SetReadDeadline(c.l.base.Add(time.Duration(c.rd)))
	}
	if c.wd <= now && !c.wset {
		c.wset = true
		_ = c.TCPConn.SetWriteDeadline(c.l.base.Add(time.Duration(c.wd)))
	}
}

func (c *lazyConn) Close() error {
	c.l.remove(c)
	c.mu.Lock()
	c.closed = true
	if c.bg == bgParked {
		c.bg = bgNone
		c.bgWake <- wakeClosed
	}
	c.mu.Unlock()
	return c.TCPConn.Close()
}
