package replicas

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
)

// pgProxy is a TCP proxy on loopback between the replicas and the test PostgreSQL. cut severs
// every connection through it and refuses new ones (as a PostgreSQL that stopped, or a network
// that dropped it); hang stops carrying bytes without closing anything, and accepts new
// connections and holds them (as a server that stopped answering, or a network that drops
// packets silently); restore lets connections through again (those held or hung by hang are
// closed: their state is lost). Other tests share the server, so the test cuts its own replicas
// off instead of stopping it.
type pgProxy struct {
	t        testing.TB
	ln       net.Listener
	upstream [2]string // network, address of the server

	mu      sync.Mutex
	down    bool
	hanging bool
	conns   map[net.Conn]struct{}
}

// newPGProxy starts a proxy to the server pgtest's DSN names.
func newPGProxy(t testing.TB) *pgProxy {
	t.Helper()
	cfg, err := pgconn.ParseConfig(pgtest.AdminDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{t: t, conns: map[net.Conn]struct{}{}}
	if strings.HasPrefix(cfg.Host, "/") {
		p.upstream = [2]string{"unix", fmt.Sprintf("%s/.s.PGSQL.%d", cfg.Host, cfg.Port)}
	} else {
		p.upstream = [2]string{"tcp", net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))}
	}
	if p.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	go p.serve()
	t.Cleanup(func() {
		p.ln.Close()
		p.cut()
	})
	return p
}

// dsn is dsn (on the proxied server) through the proxy.
func (p *pgProxy) dsn(dsn string) string {
	host, port, _ := net.SplitHostPort(p.ln.Addr().String())
	return pgtest.WithParam(pgtest.WithParam(dsn, "host", host), "port", port)
}

func (p *pgProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.pipe(c)
	}
}

func (p *pgProxy) pipe(c net.Conn) {
	p.mu.Lock()
	down, hanging := p.down, p.hanging
	if hanging {
		p.conns[c] = struct{}{}
	}
	p.mu.Unlock()
	switch {
	case down:
		c.Close()
		return
	case hanging: // accepted, and never answered: what the client sends goes nowhere
		_, _ = io.Copy(io.Discard, c)
		p.drop(c)
		return
	}
	u, err := net.Dial(p.upstream[0], p.upstream[1])
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.down || p.hanging { // cut or hung while dialling
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { p.copy(u, c); done <- struct{}{} }()
	go func() { p.copy(c, u); done <- struct{}{} }()
	<-done
	p.drop(c, u)
}

// copy forwards src to dst until either fails; while the proxy hangs, what src sends is read
// and dropped.
func (p *pgProxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			hanging := p.hanging
			p.mu.Unlock()
			if !hanging {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *pgProxy) drop(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		c.Close()
		delete(p.conns, c)
	}
}

// cut closes every connection through the proxy and refuses new ones until restore.
func (p *pgProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

// hang stops forwarding on every connection, leaving them open, and holds new ones unanswered
// until restore.
func (p *pgProxy) hang() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hanging = true
}

// restore lets connections through again; the connections hang held are closed.
func (p *pgProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hanging {
		for c := range p.conns {
			c.Close()
		}
	}
	p.down, p.hanging = false, false
}
