package tdsfake

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// conn is one client connection.
type conn struct {
	srv        *Server
	nc         net.Conn
	id         int
	spid       uint16
	packetSize int
	// lockTimeout is the connection's SET LOCK_TIMEOUT (ms) from its SQL batches, until a
	// RESETCONNECTION; -1 (the default) waits for ever.
	lockTimeout int64
}

// loginInfo is what the fake reads from LOGIN7.
type loginInfo struct {
	tdsVersion uint32
	packetSize uint32
	integrated bool
	hostName   string
	user       string
	password   string
	appName    string
	database   string
}

// inbound is one message from the reader goroutine (or its terminal error).
type inbound struct {
	msg *message
	err error
}

func (c *conn) serve() {
	s := c.srv
	// PRELOGIN
	msg, err := readMessage(c.nc)
	if err != nil {
		return
	}
	if msg.typ != pktPrelogin {
		s.logf("conn %d: expected PRELOGIN, got packet type %#x", c.id, msg.typ)
		return
	}
	if s.stalled.Load() {
		// a hung server: never answer; hold the connection until the client gives up
		s.logf("conn %d: stalling before the PRELOGIN reply", c.id)
		_, _ = io.Copy(io.Discard, c.nc)
		return
	}
	if err := c.send(preloginReply()); err != nil {
		return
	}
	// LOGIN7
	msg, err = readMessage(c.nc)
	if err != nil {
		return
	}
	if msg.typ != pktLogin7 {
		// a client that asked for TLS sends a handshake here: not supported
		s.logf("conn %d: expected LOGIN7, got packet type %#x (TLS is not supported: use encrypt=disable)", c.id, msg.typ)
		return
	}
	login, err := parseLogin7(msg.data)
	if err != nil {
		s.logf("conn %d: %v", c.id, err)
		return
	}
	if !c.login(login) {
		return
	}

	// Requests. A reader goroutine delivers messages so that an ATTENTION can interrupt a
	// delayed answer.
	in := make(chan inbound)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			m, err := readMessage(c.nc)
			select {
			case in <- inbound{m, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		ib := <-in
		if ib.err != nil {
			return
		}
		switch ib.msg.typ {
		case pktSQLBatch, pktRPC:
			if !c.handle(ib.msg, in) {
				return
			}
		case pktAttention:
			// nothing is running: the answer already went out; confirm the attention
			s.attentions.Add(1)
			if c.sendAttnAck() != nil {
				return
			}
		default:
			s.logf("conn %d: unsupported packet type %#x", c.id, ib.msg.typ)
			return
		}
	}
}

func (c *conn) send(w *tokenWriter) error {
	return writeMessage(c.nc, pktReply, w.b, c.packetSize, c.spid)
}

func (c *conn) sendAttnAck() error {
	w := &tokenWriter{}
	w.done(tokDone, doneAttn, 0, 0)
	return c.send(w)
}

// preloginReply offers TDS 16.0 and ENCRYPT_NOT_SUP, so clients must use encrypt=disable.
func preloginReply() *tokenWriter {
	type option struct {
		token byte
		data  []byte
	}
	opts := []option{
		{0x00, []byte{16, 0, 0x10, 0x7A, 0, 0}}, // VERSION 16.0.4218.0
		{0x01, []byte{2}},                       // ENCRYPTION: ENCRYPT_NOT_SUP
		{0x02, []byte{0}},                       // INSTOPT: instance ok
		{0x03, nil},                             // THREADID: empty in replies
		{0x04, []byte{0}},                       // MARS off
	}
	w := &tokenWriter{}
	offset := uint16(len(opts)*5 + 1)
	for _, o := range opts {
		w.byte(o.token)
		w.b = binary.BigEndian.AppendUint16(w.b, offset)
		w.b = binary.BigEndian.AppendUint16(w.b, uint16(len(o.data)))
		offset += uint16(len(o.data))
	}
	w.byte(0xFF)
	for _, o := range opts {
		w.bytes(o.data)
	}
	return w
}

// parseLogin7 decodes the LOGIN7 fields the fake uses (MS-TDS 2.2.6.4).
func parseLogin7(b []byte) (*loginInfo, error) {
	if len(b) < 94 {
		return nil, errors.New("LOGIN7 too short")
	}
	u16 := func(off int) int { return int(binary.LittleEndian.Uint16(b[off:])) }
	field := func(at int) ([]byte, error) {
		off, n := u16(at), 2*u16(at+2)
		if off+n > len(b) {
			return nil, fmt.Errorf("LOGIN7 field at %d out of range", at)
		}
		return b[off : off+n], nil
	}
	str := func(at int) (string, error) {
		raw, err := field(at)
		if err != nil {
			return "", err
		}
		return fromUCS2(raw)
	}
	l := &loginInfo{
		tdsVersion: binary.LittleEndian.Uint32(b[4:]),
		packetSize: binary.LittleEndian.Uint32(b[8:]),
		integrated: b[25]&0x80 != 0, // OptionFlags2 fIntSecurity
	}
	var err error
	if l.hostName, err = str(36); err != nil {
		return nil, err
	}
	if l.user, err = str(40); err != nil {
		return nil, err
	}
	raw, err := field(44)
	if err != nil {
		return nil, err
	}
	pw := make([]byte, len(raw))
	for i, x := range raw { // undo the obfuscation: XOR 0xA5, then swap the nibbles
		x ^= 0xA5
		pw[i] = x<<4 | x>>4
	}
	if l.password, err = fromUCS2(pw); err != nil {
		return nil, err
	}
	if l.appName, err = str(48); err != nil {
		return nil, err
	}
	if l.database, err = str(68); err != nil {
		return nil, err
	}
	return l, nil
}

// login checks the credentials and database and answers LOGINACK or the errors.
func (c *conn) login(l *loginInfo) bool {
	s := c.srv
	user, password := s.credentials()
	db := s.cfg.Database
	w := &tokenWriter{}
	fail := func(errs ...*ServerError) bool {
		for _, e := range errs {
			w.serverError(e)
		}
		w.done(tokDone, doneError, 0, 0)
		s.failedLogins.Add(1)
		s.logf("conn %d: login failed for %q (database %q)", c.id, l.user, l.database)
		_ = c.send(w)
		return false
	}
	switch {
	case l.integrated || l.user != user || l.password != password:
		return fail(LoginFailed(l.user))
	case l.database != "" && !strings.EqualFold(l.database, db):
		return fail(&ServerError{Number: ErrNumCannotOpenDB, Class: 11,
			Message: fmt.Sprintf("Cannot open database \"%s\" requested by the login. The login failed.", l.database)},
			LoginFailed(l.user))
	}
	if l.packetSize >= 512 && l.packetSize <= maxClientPacketSize {
		c.packetSize = int(l.packetSize)
	}
	w.envChange(envDatabase, db, "master")
	w.message(tokInfo, 5701, 2, 0, fmt.Sprintf("Changed database context to '%s'.", db))
	w.envCollation()
	w.envChange(envLanguage, "us_english", "")
	w.message(tokInfo, 5703, 1, 0, "Changed language setting to us_english.")
	w.loginAck()
	ps := fmt.Sprint(c.packetSize)
	w.envChange(envPacketSize, ps, ps)
	w.done(tokDone, doneFinal, 0, 0)
	if err := c.send(w); err != nil {
		return false
	}
	s.logins.Add(1)
	s.logf("conn %d: login %q, database %q, app %q", c.id, l.user, db, l.appName)
	return true
}

// handle answers one SQL batch or RPC. It returns false when the connection must end.
func (c *conn) handle(m *message, in <-chan inbound) bool {
	s := c.srv
	req := &Request{Conn: c.id}
	var err error
	if m.typ == pktRPC {
		req.Kind = RPC
		s.rpcs.Add(1)
		req.SQL, req.Params, err = parseRPC(m.data)
	} else {
		req.Kind = Batch
		s.batches.Add(1)
		req.SQL, err = parseBatch(m.data)
	}
	w := &tokenWriter{}
	if m.reset {
		// sp_reset_connection: SET options back to their defaults, LOCK_TIMEOUT among them
		// (review s27 R5-3).
		w.envResetAck()
		c.lockTimeout = -1
	}
	if err != nil {
		s.logf("conn %d: bad %s: %v", c.id, req.Kind, err)
		c.writeError(w, req.Kind, &ServerError{Number: ErrNumSyntax, Class: 16, Message: err.Error()})
		return c.send(w) == nil
	}
	s.logf("conn %d: %s %q %v", c.id, req.Kind, req.SQL, req.Params)

	var act *Action
	if h := s.hook.Load(); h != nil {
		act = (*h)(req)
	}
	lockTimeout := c.lockTimeout
	if ms, ok := setLockTimeout(req.SQL); ok {
		// In a batch the setting stays for the session (until a reset); in sp_executesql's statement it
		// ends with the call, as a SET in dynamic SQL does.
		lockTimeout = ms
		if req.Kind == Batch {
			c.lockTimeout = ms
		}
	}
	if act != nil && act.Delay > 0 {
		if ok, open := c.hold(act.Delay, in); !ok {
			return open
		}
	}
	if act != nil && act.LockWait > 0 && !(s.rcsi.Load() && selectsOnly(req.SQL)) {
		wait := act.LockWait
		timedOut := lockTimeout >= 0 && time.Duration(lockTimeout)*time.Millisecond < wait
		if timedOut {
			wait = time.Duration(lockTimeout) * time.Millisecond
		}
		if ok, open := c.hold(wait, in); !ok {
			return open
		}
		if timedOut {
			act = &Action{Error: LockTimeout()}
		}
	}
	var sets []resultSet
	switch {
	case act != nil && act.Drop:
		s.drops.Add(1)
		s.logf("conn %d: dropping the connection", c.id)
		return false
	case act != nil && act.Error != nil:
		err = act.Error
	case act != nil && act.Result != nil:
		var set resultSet
		set, err = act.Result.resultSet()
		sets = append(setStatements(req.SQL), set)
	default:
		sets, err = s.backend.execute(context.Background(), req.SQL, req.Params, s.cfg.Now())
	}
	if err != nil {
		var se *ServerError
		if !errors.As(err, &se) {
			se = &ServerError{Number: ErrNumGeneric, Class: 16, Message: err.Error()}
		}
		s.logf("conn %d: error %d: %s", c.id, se.Number, se.Message)
		c.writeError(w, req.Kind, se)
		return c.send(w) == nil
	}
	if err := c.writeResults(w, req.Kind, sets); err != nil {
		// a value the column type cannot carry: report it instead of a broken stream
		w = &tokenWriter{}
		c.writeError(w, req.Kind, &ServerError{Number: ErrNumGeneric, Class: 16, Message: err.Error()})
	}
	return c.send(w) == nil
}

// hold waits d before the answer. An ATTENTION ends the wait: hold answers it with DONE(ATTN)
// and returns ok false, open whether the connection goes on.
func (c *conn) hold(d time.Duration, in <-chan inbound) (ok, open bool) {
	s := c.srv
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true, true
	case ib := <-in:
		if ib.err != nil {
			return false, false
		}
		if ib.msg.typ != pktAttention {
			s.logf("conn %d: request %#x while another is running", c.id, ib.msg.typ)
			return false, false
		}
		s.attentions.Add(1)
		s.logf("conn %d: attention: request cancelled", c.id)
		return false, c.sendAttnAck() == nil
	}
}

// setLockTimeout finds the last SET LOCK_TIMEOUT n of a request's T-SQL.
func setLockTimeout(sql string) (ms int64, ok bool) {
	toks, err := tokenize(sql)
	if err != nil {
		return 0, false
	}
	for _, stmt := range splitStatements(toks) {
		var w []string
		for _, t := range stmt {
			if t.kind != tkSpace {
				w = append(w, t.text)
			}
		}
		if len(w) < 3 || !strings.EqualFold(w[0], "SET") || !strings.EqualFold(w[1], "LOCK_TIMEOUT") {
			continue
		}
		v := w[2]
		if v == "-" && len(w) > 3 {
			v += w[3]
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil && n >= -1 {
			ms, ok = n, true
		}
	}
	return ms, ok
}

// selectsOnly reports whether a request's T-SQL is SELECTs (and SET options) only: reads,
// which READ_COMMITTED_SNAPSHOT serves from row versions without waiting for locks.
func selectsOnly(sql string) bool {
	toks, err := tokenize(sql)
	if err != nil {
		return false
	}
	for _, stmt := range splitStatements(toks) {
		if len(stmt) == 0 {
			continue
		}
		if first := stmt[0]; !first.is("SELECT") && !first.is("SET") && !first.is("WITH") {
			return false
		}
	}
	return true
}

func (c *conn) writeError(w *tokenWriter, kind RequestKind, e *ServerError) {
	w.serverError(e)
	if kind == RPC {
		w.done(tokDoneProc, doneError, cmdExecute, 0)
		return
	}
	w.done(tokDone, doneError, 0, 0)
}

// writeResults writes the result sets: DONE per statement for a batch; DONEINPROC per
// statement, RETURNSTATUS and DONEPROC for an RPC (sp_executesql's statements run as a
// procedure's: "For stored procedures, completion of SQL statements in the stored procedure is
// indicated by a DONEINPROC token data stream for each SQL statement and a DONEPROC token data
// stream for each completed stored procedure", MS-TDS 2.2.2.7). A SET statement's DONE has no
// DONE_COUNT (it affects no rows) and its own CurCmd (setCommand).
func (c *conn) writeResults(w *tokenWriter, kind RequestKind, sets []resultSet) error {
	for i, set := range sets {
		status := doneCount
		last := i == len(sets)-1
		if !last || kind == RPC {
			status |= doneMore
		}
		cmd := cmdSelect
		count := uint64(len(set.rows))
		if set.setCmd != 0 {
			status &^= doneCount
			cmd, count = set.setCmd, 0
		} else if set.cols != nil {
			w.colMetadata(set.cols)
			for _, r := range set.rows {
				if err := w.row(set.cols, r); err != nil {
					return err
				}
			}
		} else {
			cmd = 0
			count = uint64(set.rowsAffected)
		}
		tok := tokDone
		if kind == RPC {
			tok = tokDoneInProc
		}
		w.done(tok, status, cmd, count)
	}
	switch {
	case kind == RPC:
		w.returnStatus(0)
		w.done(tokDoneProc, doneFinal, cmdExecute, 0)
	case len(sets) == 0:
		w.done(tokDone, doneFinal, 0, 0)
	}
	return nil
}
