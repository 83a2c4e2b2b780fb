package web

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// lazyServer serves h on 127.0.0.1 through LazyDeadlines (a 10 ms tick) with the given
// timeouts and BackgroundReads, as cmd/ssobridge serves; it returns the address.
func lazyServer(t *testing.T, h http.Handler, readHeader, read, write, idle time.Duration) (string, *lazyListener) {
	t.Helper()
	addr, lz, _ := lazyServerTick(t, h, 10*time.Millisecond, readHeader, read, write, idle)
	return addr, lz
}

// lazyServerTick is lazyServer with the watchdog's tick; it also returns the server.
func lazyServerTick(t *testing.T, h http.Handler, tick, readHeader, read, write, idle time.Duration) (string, *lazyListener, *http.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lz := LazyDeadlines(ln, tick)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: readHeader, ReadTimeout: read, WriteTimeout: write, IdleTimeout: idle,
		ConnState: BackgroundReads(nil)}
	go func() { _ = srv.Serve(lz) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), lz.(*lazyListener), srv
}

// lazyPair is a connection accepted through LazyDeadlines (a watchdog that never ticks: an
// hour) and its client end, closed when the test ends.
func lazyPair(t *testing.T) (*lazyListener, net.Conn, *lazyConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lz := LazyDeadlines(ln, time.Hour).(*lazyListener)
	t.Cleanup(func() { lz.Close() })
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	conn, err := lz.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	lc, ok := conn.(*lazyConn)
	if !ok {
		t.Fatalf("accepted a %T, want the wrapper", conn)
	}
	return lz, client, lc
}

// closedWithin reports whether the server closes conn (a read returns an error) within d,
// while the client sends nothing more.
func closedWithin(conn net.Conn, d time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// TestLazyDeadlinesKeepAlive: requests in a row on one connection, with and without bodies,
// are answered as without the wrapper (net/http interrupts its background read after each
// with a deadline in the past, applied at once, and clears it after).
func TestLazyDeadlinesKeepAlive(t *testing.T) {
	addr, _ := lazyServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %d", r.Method, len(b))
	}), time.Second, 2*time.Second, 2*time.Second, 5*time.Second)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for i := range 300 {
		req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
		want := "GET 0"
		if i%2 == 1 {
			req = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
			want = "POST 5"
		}
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Fatalf("request %d: %q, want %q", i, b, want)
		}
	}
}

// TestLazyDeadlinesEnforced: each of the server's timeouts still closes the connection of a
// client that holds it: a header trickled in (read header), a body trickled in (read), an
// answer not read (write), a kept-alive connection left idle (idle). Each is 200 ms; the
// client goes on for 5 s, and the server must have given up within 2 s.
func TestLazyDeadlinesEnforced(t *testing.T) {
	const limit, patience = 200 * time.Millisecond, 2 * time.Second
	trickle := func(conn net.Conn, stop <-chan struct{}) {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := conn.Write([]byte("a")); err != nil {
				return
			}
		}
	}
	t.Run("read header", func(t *testing.T) {
		addr, _ := lazyServer(t, http.NotFoundHandler(), limit, time.Minute, time.Minute, time.Minute)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, _ = conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "))
		stop := make(chan struct{})
		defer close(stop)
		go trickle(conn, stop)
		if !closedWithin(conn, patience) {
			t.Fatal("a header trickled in for 2 s: the connection is still open (read header timeout 200 ms)")
		}
	})
	t.Run("read", func(t *testing.T) {
		got := make(chan error, 1)
		addr, _ := lazyServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := io.ReadAll(r.Body)
			got <- err
		}), limit, limit, time.Minute, time.Minute)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, _ = conn.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"))
		stop := make(chan struct{})
		defer close(stop)
		go trickle(conn, stop)
		select {
		case err := <-got:
			if err == nil {
				t.Fatal("the body was read whole")
			}
		case <-time.After(patience):
			t.Fatal("a body trickled in for 2 s: still reading (read timeout 200 ms)")
		}
	})
	t.Run("write", func(t *testing.T) {
		got := make(chan error, 1)
		addr, _ := lazyServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			chunk := []byte(strings.Repeat("x", 64<<10))
			for {
				if _, err := w.Write(chunk); err != nil {
					got <- err
					return
				}
			}
		}), time.Minute, time.Minute, limit, time.Minute)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, _ = conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) // and never read
		select {
		case <-got:
		case <-time.After(patience):
			t.Fatal("an answer not read for 2 s: still writing (write timeout 200 ms)")
		}
	})
	t.Run("idle", func(t *testing.T) {
		addr, lz := lazyServer(t, http.NotFoundHandler(), time.Minute, time.Minute, time.Minute, limit)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, _ = conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !closedWithin(conn, patience) {
			t.Fatal("idle for 2 s: the connection is still open (idle timeout 200 ms)")
		}
		// With no connection left, the watchdog stops.
		for deadline := time.Now().Add(patience); ; time.Sleep(10 * time.Millisecond) {
			lz.mu.Lock()
			running := lz.running
			lz.mu.Unlock()
			if !running {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no connection left, and the watchdog still runs")
			}
		}
	})
}

// TestLazyDeadlinePastAppliedAtOnce: a deadline already past when it is set interrupts a
// blocked read at once, not at the watchdog's next tick (net/http interrupts its background
// read so after every request, and waits for it), and clearing it lets reads go on.
func TestLazyDeadlinePastAppliedAtOnce(t *testing.T) {
	_, client, conn := lazyPair(t)
	read := make(chan error, 1)
	go func() {
		_, err := conn.Read(make([]byte, 1))
		read <- err
	}()
	time.Sleep(20 * time.Millisecond)
	_ = conn.SetReadDeadline(time.Unix(1, 0)) // net/http's aLongTimeAgo
	select {
	case err := <-read:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read: %v, want the deadline exceeded", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a deadline in the past did not interrupt the read")
	}
	_ = conn.SetReadDeadline(time.Time{})
	_, _ = client.Write([]byte("x"))
	if _, err := conn.Read(make([]byte, 1)); err != nil {
		t.Fatalf("read after the deadline was cleared: %v", err)
	}
}

// post sends a POST with body on conn and returns the answer's body.
func post(conn net.Conn, br *bufio.Reader, body string) (string, error) {
	if _, err := fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// waitParked waits (up to 5 s) until a connection of lz has its background read parked.
func waitParked(lz *lazyListener) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		lz.mu.Lock()
		for c := range lz.conns {
			c.mu.Lock()
			parked := c.bg == bgParked
			c.mu.Unlock()
			if parked {
				lz.mu.Unlock()
				return true
			}
		}
		lz.mu.Unlock()
	}
	return false
}

// TestBackgroundReadParked: while a handler that has read its body runs, net/http's
// background read parks in the connection (no read system call) and net/http's interruption
// at the end of the handler ends it at once: with a watchdog that never ticks (an hour),
// requests in a row are answered, and each was interrupted while parked.
func TestBackgroundReadParked(t *testing.T) {
	var lz *lazyListener
	addr, lz, _ := lazyServerTick(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !waitParked(lz) { // the background read starts and parks meanwhile
			http.Error(w, "the background read did not park", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s", b)
	}), time.Hour, time.Second, 2*time.Second, 2*time.Second, 5*time.Second)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for i := range 5 {
		want := fmt.Sprintf("body %d", i)
		type answer struct {
			body string
			err  error
		}
		done := make(chan answer, 1)
		go func() {
			b, err := post(conn, br, want)
			done <- answer{b, err}
		}()
		select {
		case got := <-done:
			if got.err != nil || got.body != want {
				t.Fatalf("request %d: %q, %v, want %q", i, got.body, got.err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("request %d not answered: the parked background read was not interrupted", i)
		}
	}
	// net/http interrupts the background read after flushing the answer: the last one may
	// still be on its way.
	for deadline := time.Now().Add(2 * time.Second); lz.parkedAborted.Load() < 5 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if n := lz.parkedAborted.Load(); n != 5 {
		t.Fatalf("%d background reads interrupted while parked, want 5 (one per request)", n)
	}
}

// TestBackgroundReadSeesClientLeave: a handler still running two ticks after its background
// read parked gets the real read, so a client that leaves still cancels the request's
// context (net/http's contract for a long handler: a slow AMS, a sign-in slowed down).
func TestBackgroundReadSeesClientLeave(t *testing.T) {
	canceled := make(chan time.Duration, 1)
	addr, _, _ := lazyServerTick(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		start := time.Now()
		select {
		case <-r.Context().Done():
			canceled <- time.Since(start)
		case <-time.After(10 * time.Second):
		}
	}), 20*time.Millisecond, time.Second, 20*time.Second, 20*time.Second, 20*time.Second)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the handler runs, its background read parked
	conn.Close()
	select {
	case d := <-canceled:
		t.Logf("context canceled %v after the handler started", d)
	case <-time.After(5 * time.Second):
		t.Fatal("the client left and the request's context was not canceled")
	}
}

// TestBackgroundReadPipelined: a request pipelined behind one whose handler runs long enough
// for the background read to park (and, with a 10 ms tick, to read for real) is answered next,
// in order.
func TestBackgroundReadPipelined(t *testing.T) {
	addr, _, _ := lazyServerTick(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		time.Sleep(60 * time.Millisecond)
		fmt.Fprintf(w, "%s", b)
	}), 10*time.Millisecond, time.Second, 2*time.Second, 2*time.Second, 5*time.Second)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\noneGET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	for _, want := range []string{"one", ""} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Fatalf("answer %q, want %q", b, want)
		}
	}
}

// TestBackgroundReadServerClose: closing the server while a background read is parked ends
// it, and the running handler's context is canceled (the watchdog never ticks here).
func TestBackgroundReadServerClose(t *testing.T) {
	started, canceled := make(chan struct{}), make(chan struct{})
	addr, _, srv := lazyServerTick(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		close(started)
		select {
		case <-r.Context().Done():
			close(canceled)
		case <-time.After(10 * time.Second):
		}
	}), time.Hour, time.Second, 20*time.Second, 20*time.Second, 20*time.Second)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"); err != nil {
		t.Fatal(err)
	}
	<-started
	time.Sleep(50 * time.Millisecond) // the background read parks
	srv.Close()
	select {
	case <-canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("closing the server did not end the parked background read")
	}
}

// TestReadAfterWriteYields: a read that follows a write on the connection yields once before
// reading; a read after a read does not.
func TestReadAfterWriteYields(t *testing.T) {
	lz, client, conn := lazyPair(t)
	yields := 0
	lz.yield = func() { yields++ }
	buf := make([]byte, 16)
	_, _ = client.Write([]byte("ab"))
	if _, err := conn.Read(buf); err != nil || yields != 0 {
		t.Fatalf("first read: %v, %d yields, want none", err, yields)
	}
	if _, err := conn.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	_, _ = client.Write([]byte("cd"))
	if _, err := conn.Read(buf); err != nil || yields != 1 {
		t.Fatalf("read after a write: %v, %d yields, want 1", err, yields)
	}
	_, _ = client.Write([]byte("ef"))
	if _, err := conn.Read(buf); err != nil || yields != 1 {
		t.Fatalf("read after a read: %v, %d yields, want still 1", err, yields)
	}
}
