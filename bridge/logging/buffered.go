package logging

import (
	"io"
	"sync"
	"time"
)

// Buffered gathers log lines for w and writes them in batches, instead of one write(2) per
// line: when the next line would not fit in size bytes, every interval after a line arrives
// in an empty buffer, at once after a warning or an error (Handler flushes it), and on Flush
// and Close. No line is dropped: one longer than the buffer is written on its own, and after
// Close every line goes straight to w. Each Write is one whole line (slog's handlers write a
// record in one call), so lines never interleave. Safe for concurrent use.
type Buffered struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	size   int
	every  time.Duration
	timer  *time.Timer
	closed bool
}

// NewBuffered buffers up to size bytes for w, written at the latest every after they came.
func NewBuffered(w io.Writer, size int, every time.Duration) *Buffered {
	b := &Buffered{w: w, buf: make([]byte, 0, size), size: size, every: every}
	b.timer = time.AfterFunc(every, func() { _ = b.Flush() })
	b.timer.Stop()
	return b
}

// Write adds one line.
func (b *Buffered) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	if len(b.buf)+len(p) > b.size {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > b.size {
			return b.w.Write(p)
		}
	}
	if len(b.buf) == 0 {
		b.timer.Reset(b.every)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes the lines gathered so far.
func (b *Buffered) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *Buffered) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	// A writer that failed has the lines it could take; keeping the rest would only grow the
	// buffer while it stays broken.
	b.buf = b.buf[:0]
	return err
}

// Close writes the lines gathered so far; later lines are written at once.
func (b *Buffered) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.timer.Stop()
	return b.flushLocked()
}
