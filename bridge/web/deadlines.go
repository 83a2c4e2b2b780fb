package web

import (
	"math"
	"net"
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
func LazyDeadlines(ln net.Listener, tick time.Duration) net.Listener {
	l := &lazyListener{Listener: ln, tick: tick, base: time.Now(), conns: map[*lazyConn]struct{}{}}
	return l
}

// DeadlineTick is how often the server's watchdog applies the deadlines that have passed
// (LazyDeadlines): the server's timeouts (10 s and more) are enforced within it.
const DeadlineTick = 250 * time.Millisecond

type lazyListener struct {
	net.Listener
	tick time.Duration
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
	c := &lazyConn{TCPConn: tc, l: l, rd: noDeadline, wd: noDeadline}
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
		l.mu.Lock()
		if len(l.conns) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		for c := range l.conns {
			c.expire(n)
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
		c.rset = true
		err = c.TCPConn.SetReadDeadline(t)
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
// blocked on it fails with os.ErrDeadlineExceeded, as at a deadline net's own timer applies.
func (c *lazyConn) expire(now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
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
	return c.TCPConn.Close()
}
