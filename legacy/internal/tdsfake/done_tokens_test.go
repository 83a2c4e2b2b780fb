package tdsfake

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"
)

// doneToken is a DONE, DONEPROC or DONEINPROC token as the fake wrote it.
type doneToken struct {
	tok         byte
	status, cmd uint16
	count       uint64
}

// answerDones answers sql as the fake answers a request of kind (the backend's statements,
// then writeResults, as conn.handle does without a hook) and returns the answer's DONE-kind
// tokens in order. It reads COLMETADATA and ROW of INTN columns only.
func answerDones(t *testing.T, kind RequestKind, sql string) []doneToken {
	t.Helper()
	b, err := newBackend()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.close() })
	sets, err := b.execute(context.Background(), sql, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	w := &tokenWriter{}
	if err := (&conn{}).writeResults(w, kind, sets); err != nil {
		t.Fatal(err)
	}
	var out []doneToken
	var sizes []int // the INTN columns' sizes of the latest COLMETADATA
	p := w.b
	take := func(n int) []byte {
		if len(p) < n {
			t.Fatalf("answer ends inside a token: % x", w.b)
		}
		v := p[:n]
		p = p[n:]
		return v
	}
	for len(p) > 0 {
		switch tok := take(1)[0]; tok {
		case tokDone, tokDoneProc, tokDoneInProc:
			v := take(12)
			out = append(out, doneToken{tok, binary.LittleEndian.Uint16(v), binary.LittleEndian.Uint16(v[2:]), binary.LittleEndian.Uint64(v[4:])})
		case tokReturnStatus:
			take(4)
		case tokColMetadata:
			n := int(binary.LittleEndian.Uint16(take(2)))
			sizes = sizes[:0]
			for range n {
				take(4 + 2) // user type, flags
				if tid := take(1)[0]; tid != 0x26 {
					t.Fatalf("column type %#x: the test reads INTN columns only", tid)
				}
				sizes = append(sizes, int(take(1)[0]))
				take(2 * int(take(1)[0])) // name
			}
		case tokRow:
			for range sizes {
				take(int(take(1)[0]))
			}
		default:
			t.Fatalf("token %#x: not read by the test", tok)
		}
	}
	return out
}

// TestSetStatementsAnswerDone (session 28, L; s27 Left): SQL Server answers a SET statement
// like any other statement, with a DONE in a SQL batch and with a DONEINPROC in an RPC's
// statement (sqldir's committed reads are "SET LOCK_TIMEOUT n; SELECT ..." sent by go-mssqldb
// as sp_executesql): "A DONE token is returned for each SQL statement in the SQL batch except
// variable declarations" (MS-TDS 2.2.7.6), "A DONEINPROC token is sent for each executed SQL
// statement within a stored procedure" (2.2.7.7). The SET's token carries DONE_MORE when more
// follows (always, for a DONEINPROC: it "MUST be followed by another DONEPROC token or a
// DONEINPROC token"), no DONE_COUNT (no rows affected) and the SET's CurCmd: SQL Server
// answered SET FMTONLY ON with DONE status 0x0001 CurCmd 0x00B9 count 0 and SET FMTONLY OFF
// with status 0x0000 CurCmd 0x00BA (a LocalDB capture); a SET with a value is 0xF9 (see
// setCommand). The fake used to send nothing for a SET.
func TestSetStatementsAnswerDone(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind RequestKind
		sql  string
		want []doneToken
	}{
		{"committed read in sp_executesql", RPC, "SET LOCK_TIMEOUT 1000;\nSELECT 1 AS n", []doneToken{
			{tokDoneInProc, doneMore, cmdSet, 0},
			{tokDoneInProc, doneMore | doneCount, cmdSelect, 1},
			{tokDoneProc, doneFinal, cmdExecute, 0},
		}},
		{"the same as a SQL batch", Batch, "SET LOCK_TIMEOUT 1000;\nSELECT 1 AS n", []doneToken{
			{tokDone, doneMore, cmdSet, 0},
			{tokDone, doneCount, cmdSelect, 1},
		}},
		{"an option on and off around a select", Batch, "SET ANSI_WARNINGS ON; SELECT 1 AS n; SET ANSI_WARNINGS OFF", []doneToken{
			{tokDone, doneMore, cmdSetOn, 0},
			{tokDone, doneMore | doneCount, cmdSelect, 1},
			{tokDone, doneFinal, cmdSetOff, 0},
		}},
		{"a batch of one SET", Batch, "SET LOCK_TIMEOUT 50", []doneToken{
			{tokDone, doneFinal, cmdSet, 0},
		}},
		{"an RPC of one SET", RPC, "SET NOCOUNT OFF", []doneToken{
			{tokDoneInProc, doneMore, cmdSetOff, 0},
			{tokDoneProc, doneFinal, cmdExecute, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := answerDones(t, tc.kind, tc.sql); !slices.Equal(got, tc.want) {
				t.Errorf("%q as %s answers %+v;\nwant %+v", tc.sql, tc.kind, got, tc.want)
			}
		})
	}
}

// TestOpeningSetStatements: a scripted result (Action.Result) stands for the request's
// statements after its opening SET statements, whose DONEs SQL Server still sends first
// (conn.handle puts setStatements before it); a variable assignment is not a SET option.
func TestOpeningSetStatements(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want []uint16
	}{
		{"SET LOCK_TIMEOUT 1000;\nSELECT 1", []uint16{cmdSet}},
		{"SET NOCOUNT ON; SET XACT_ABORT OFF; SELECT 1; SET ANSI_NULLS ON", []uint16{cmdSetOn, cmdSetOff}},
		{"SELECT 1; SET NOCOUNT ON", nil},
		{"SET @x = 1; SELECT @x", nil},
	} {
		var got []uint16
		for _, s := range setStatements(tc.sql) {
			got = append(got, s.setCmd)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("setStatements(%q) = %#x, want %#x", tc.sql, got, tc.want)
		}
	}
}
