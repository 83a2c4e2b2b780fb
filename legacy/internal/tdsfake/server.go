package tdsfake

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a fake server. The zero value is usable: user "sa", password
// "Passw0rd!", database "iMIS".
type Config struct {
	// User and Password are the only SQL login the server accepts.
	User, Password string
	// Database is the only database that exists; LOGIN7 may name it (any case) or none.
	Database string
	// Hook scripts answers (failure injection); nil answers everything from SQLite.
	Hook Hook
	// Now is the server clock for GETDATE() and friends (local wall clock); time.Now if nil.
	Now func() time.Time
	// ReadCommittedSnapshot and SnapshotIsolation start the database with
	// READ_COMMITTED_SNAPSHOT and ALLOW_SNAPSHOT_ISOLATION on (sys.databases; SQL Server
	// creates databases with both off). With READ_COMMITTED_SNAPSHOT on, a read does not wait
	// for a lock (Action.LockWait): it reads the last committed row versions.
	ReadCommittedSnapshot, SnapshotIsolation bool
	// Logf, if set, receives one line per connection event and request.
	Logf func(format string, args ...any)
}

// Stats counts what the server saw since it started (or since ResetStats).
type Stats struct {
	Connections  int64 // accepted TCP connections
	Logins       int64 // successful logins
	FailedLogins int64 // logins answered with an error
	Batches      int64 // SQL batch requests
	RPCs         int64 // RPC (sp_executesql) requests
	Attentions   int64 // ATTENTION signals received
	Drops        int64 // connections dropped by a Drop action
}

// Requests is the number of round trips: SQL batches plus RPCs.
func (s Stats) Requests() int64 { return s.Batches + s.RPCs }

// Server is a fake SQL Server speaking TDS 7.4 on 127.0.0.1.
type Server struct {
	cfg     Config
	addr    string
	backend *backend
	hook    atomic.Pointer[Hook]
	stalled atomic.Bool
	rcsi    atomic.Bool // READ_COMMITTED_SNAPSHOT

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*conn]struct{}
	closed   bool
	user     string
	password string
	nextConn int

	wg sync.WaitGroup

	connections, logins, failedLogins, batches, rpcs, attentions, drops atomic.Int64
}

// Start starts a server on a random 127.0.0.1 port.
func Start(cfg Config) (*Server, error) {
	if cfg.User == "" {
		cfg.User = "sa"
	}
	if cfg.Password == "" {
		cfg.Password = "Passw0rd!"
	}
	if cfg.Database == "" {
		cfg.Database = "iMIS"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	be, err := newBackend()
	if err != nil {
		return nil, err
	}
	be.database = cfg.Database
	if err := be.createSysDatabases(context.Background()); err != nil {
		be.close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		be.close()
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		addr:     ln.Addr().String(),
		backend:  be,
		ln:       ln,
		conns:    map[*conn]struct{}{},
		user:     cfg.User,
		password: cfg.Password,
	}
	if cfg.Hook != nil {
		s.SetHook(cfg.Hook)
	}
	if err := s.SetReadCommittedSnapshot(cfg.ReadCommittedSnapshot); err != nil {
		be.close()
		ln.Close()
		return nil, err
	}
	if err := s.SetSnapshotIsolation(cfg.SnapshotIsolation); err != nil {
		be.close()
		ln.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.acceptLoop(ln)
	return s, nil
}

// Addr is the listening address, "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

// Port is the listening port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	var n int
	fmt.Sscan(p, &n)
	return n
}

// DSN returns a go-mssqldb URL for the configured login and database with encrypt=disable.
// extra query parameters ("dial timeout=2", "connection timeout=5", ...) are appended.
func (s *Server) DSN(extra ...string) string {
	return s.DSNFor(s.cfg.User, s.cfg.Password, s.cfg.Database, extra...)
}

// DSNFor returns a DSN with another login or database, for failure tests.
func (s *Server) DSNFor(user, password, database string, extra ...string) string {
	u := &url.URL{Scheme: "sqlserver", User: url.UserPassword(user, password), Host: s.addr}
	q := "database=" + url.QueryEscape(database) + "&encrypt=disable"
	for _, e := range extra {
		k, v, _ := strings.Cut(e, "=")
		q += "&" + url.QueryEscape(k) + "=" + url.QueryEscape(v)
	}
	u.RawQuery = q
	return u.String()
}

// SetHook replaces the failure-injection hook (nil removes it).
func (s *Server) SetHook(h Hook) {
	if h == nil {
		s.hook.Store(nil)
		return
	}
	s.hook.Store(&h)
}

// SetReadCommittedSnapshot turns the database's READ_COMMITTED_SNAPSHOT on or off, as ALTER
// DATABASE CURRENT SET READ_COMMITTED_SNAPSHOT ON|OFF: sys.databases shows it, and with it on
// a read waits for no lock (Action.LockWait).
func (s *Server) SetReadCommittedSnapshot(on bool) error {
	s.rcsi.Store(on)
	return s.backend.setDatabaseOption(context.Background(), fmt.Sprintf("is_read_committed_snapshot_on = %d", bitValue(on)))
}

// SetSnapshotIsolation turns ALLOW_SNAPSHOT_ISOLATION on or off (sys.databases'
// snapshot_isolation_state and _desc; the fake has no SNAPSHOT transactions).
func (s *Server) SetSnapshotIsolation(on bool) error {
	desc := map[bool]string{true: "ON", false: "OFF"}[on]
	return s.backend.setDatabaseOption(context.Background(),
		fmt.Sprintf("snapshot_isolation_state = %d, snapshot_isolation_state_desc = '%s'", bitValue(on), desc))
}

func bitValue(on bool) int {
	if on {
		return 1
	}
	return 0
}

// SetCredentials changes the accepted login for new connections (existing ones stay).
func (s *Server) SetCredentials(user, password string) {
	s.mu.Lock()
	s.user, s.password = user, password
	s.mu.Unlock()
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Connections:  s.connections.Load(),
		Logins:       s.logins.Load(),
		FailedLogins: s.failedLogins.Load(),
		Batches:      s.batches.Load(),
		RPCs:         s.rpcs.Load(),
		Attentions:   s.attentions.Load(),
		Drops:        s.drops.Load(),
	}
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	for _, c := range []*atomic.Int64{&s.connections, &s.logins, &s.failedLogins, &s.batches, &s.rpcs, &s.attentions, &s.drops} {
		c.Store(0)
	}
}

// Exec runs T-SQL directly against the backing database (no TDS), for fixtures: CREATE TABLE
// with SQL Server types, INSERT, ... Several statements may be separated by semicolons.
// args bind to @p1, @p2, ...; time.Time values are stored as their wall clock.
func (s *Server) Exec(tsql string, args ...any) error {
	params := make([]Param, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case int:
			a = int64(v)
		case int32:
			a = int64(v)
		case time.Time:
			a = time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), time.UTC)
		}
		params[i] = Param{Name: fmt.Sprintf("@p%d", i+1), Value: a}
	}
	_, err := s.backend.execute(context.Background(), tsql, params, s.cfg.Now())
	return err
}

// DeclareColumn fixes the SQL Server type of every result column with this name (any case),
// for expressions whose type neither the tables nor the values tell.
func (s *Server) DeclareColumn(name, sqlServerType string) error {
	t, err := parseType(sqlServerType)
	if err != nil {
		return err
	}
	s.backend.mu.Lock()
	s.backend.declared[strings.ToLower(name)] = t
	s.backend.mu.Unlock()
	return nil
}

// Refuse closes the listener: new connections are refused until Resume. Open connections
// stay; use DropConnections as well to force the client to dial.
func (s *Server) Refuse() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
}

// Resume listens again on the same address after Refuse.
func (s *Server) Resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("tdsfake: server closed")
	}
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.ln = ln
	s.wg.Add(1)
	go s.acceptLoop(ln)
	return nil
}

// Stall makes the server hang: new connections are accepted and their PRELOGIN read, but
// never answered, until Stall(false). Open connections are not affected.
func (s *Server) Stall(on bool) { s.stalled.Store(on) }

// DropConnections closes every open client connection.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.nc.Close()
	}
}

// Close stops the server, closes all connections and the backing database.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return s.backend.close()
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf("tdsfake: "+format, args...)
	}
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.nextConn++
		c := &conn{srv: s, nc: nc, id: s.nextConn, spid: uint16(50 + s.nextConn), packetSize: defaultPacketSize, lockTimeout: -1}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.connections.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
			nc.Close()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *Server) credentials() (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user, s.password
}
