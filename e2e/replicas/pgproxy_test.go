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

// pgProxy is a TCP proxy on loopback between the replicas and the test PostgreSQL: cut severs
// every connection through it and refuses new ones (as a PostgreSQL that stopped, or a network
// that dropped it), restore lets connections through again. Other tests share the server, so
// the test cuts its own replicas off instead of stopping it.
type pgProxy struct {
	t        testing.TB
	ln       net.Listener
	upstream [2]string // network, address of the server

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
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
	down := p.down
	p.mu.Unlock()
	if down {
		c.Close()
		return
	}
	u, err := net.Dial(p.upstream[0], p.upstream[1])
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.down { // cut while dialling
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
	c.Close()
	u.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
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

// restore lets connections through again.
func (p *pgProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}
