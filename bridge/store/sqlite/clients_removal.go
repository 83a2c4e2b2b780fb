package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// A client's removal (DeleteClientCounted) deletes its rows from tables that no index finds
// by client: an index on client_id would cost a page written per sign-in (auth_requests: 22.0
// -> 23.6 WAL frames a sign-in, TestWALFramesPerLogin) or per session, and a client is removed
// rarely. Their statements read every row, and read it under the one writer: at 55,000 sign-in
// requests, 50,000 device authorizations and 50,000 sessions a removal held every other write
// (sign-ins included) for about 0.1 s, more as the tables grow (sessions live 12 hours: their
// table is by far the largest at a steady rate of sign-ins). So each is walked on the read
// pool (which does not hold the writer), and the write transaction deletes the rows found by
// their keys, each row only if it still is the client's (session 24, BenchmarkDeleteClient),
// up to removalChunk keys a statement: one statement a row held the writer 2.6-3.8 times as
// long as the old statements when the removed app owned the rows (62,000 of them: review s24
//
//
// A row the client gets while the walk runs (a sign-in at the app being removed) is not in
// the walk: once the transaction has committed, the tables are walked again and what they
// find deleted in a second transaction (sweepClientRows). A row written after that (a request
// whose client was looked up before the removal) is left, as it was when the removal was one
// transaction: sso refuses it while the client is gone, and it expires.

// clientRowSet is one kind of a client's rows that DeleteClientCounted deletes by key.
type clientRowSet struct {
	// keys selects the keys of a client's rows (?1: the client id), on the read pool.
	keys string
	// del deletes some of them by their keys (%s: a list of placeholders, delFor) if they
	// still are the client's (the last placeholder): a search by primary key
	// (TestClientRemovalDeletesByKey).
	del string
	// count is the field of store.ClientRemoval that counts them.
	count func(r *store.ClientRemoval) *int
}

// clientRowSets are the client's rows DeleteClientCounted deletes by key, in its order. The
// conditions of keys and del are the same, so a row the transaction deletes is one the walk
// would have found.
var clientRowSets = []clientRowSet{
	{ // every member's consent to it
		keys:  `SELECT subject FROM consents WHERE client_id = ?1`,
		del:   `DELETE FROM consents WHERE subject IN (%s) AND client_id = ?`,
		count: func(r *store.ClientRemoval) *int { return &r.Consents },
	},
	{ // its outbox events not delivered (pending, in flight, dead)
		keys:  `SELECT seq FROM outbox WHERE client_id = ?1 AND state <> 'delivered'`,
		del:   `DELETE FROM outbox WHERE seq IN (%s) AND client_id = ? AND state <> 'delivered'`,
		count: func(r *store.ClientRemoval) *int { return &r.Events },
	},
	{ // its place in every session
		keys:  `SELECT session_id FROM session_clients WHERE client_id = ?1`,
		del:   `DELETE FROM session_clients WHERE session_id IN (%s) AND client_id = ?`,
		count: func(r *store.ClientRemoval) *int { return &r.Sessions },
	},
	{ // its sign-in requests (pending ones, issued codes)
		keys:  `SELECT id FROM auth_requests WHERE client_id = ?1`,
		del:   `DELETE FROM auth_requests WHERE id IN (%s) AND client_id = ?`,
		count: func(r *store.ClientRemoval) *int { return &r.Requests },
	},
	{ // its device authorizations
		keys:  `SELECT device_code_hash FROM device_authorizations WHERE client_id = ?1`,
		del:   `DELETE FROM device_authorizations WHERE device_code_hash IN (%s) AND client_id = ?`,
		count: func(r *store.ClientRemoval) *int { return &r.Devices },
	},
}

// clientRowKeys is the keys of clientID's rows in each of clientRowSets (in their order),
// read on the read pool.
func (s *Store) clientRowKeys(ctx context.Context, clientID string) ([][]any, int, error) {
	keys := make([][]any, len(clientRowSets))
	n := 0
	for i, set := range clientRowSets {
		rows, err := s.r.QueryContext(ctx, set.keys, clientID)
		if err != nil {
			return nil, 0, err
		}
		for rows.Next() {
			var k any
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, 0, err
			}
			keys[i] = append(keys[i], k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, 0, err
		}
		n += len(keys[i])
	}
	return keys, n, nil
}

// removalChunk is how many keys one of deleteClientRows' statements deletes (SQLite allows
// 32,766 placeholders).
const removalChunk = 500

// delFor is set's delete of n keys.
func (set clientRowSet) delFor(n int) string {
	return fmt.Sprintf(set.del, strings.TrimSuffix(strings.Repeat("?,", n), ","))
}

// deleteClientRows deletes, in tx, the rows of keys (clientRowKeys) that are still clientID's,
// removalChunk keys a statement, and adds how many of each set it deleted to r.
func deleteClientRows(ctx context.Context, tx *sql.Tx, clientID string, keys [][]any, r *store.ClientRemoval) error {
	for i, set := range clientRowSets {
		var full *sql.Stmt // the statement of a whole chunk, prepared once
		for ks := range slices.Chunk(keys[i], removalChunk) {
			args := append(slices.Clip(ks), clientID)
			var res sql.Result
			var err error
			switch {
			case len(ks) < removalChunk:
				res, err = tx.ExecContext(ctx, set.delFor(len(ks)), args...)
			case full == nil:
				if full, err = tx.PrepareContext(ctx, set.delFor(removalChunk)); err != nil {
					return err
				}
				fallthrough
			default:
				res, err = full.ExecContext(ctx, args...)
			}
			if err != nil {
				return errors.Join(err, closeStmt(full))
			}
			m, err := res.RowsAffected()
			if err != nil {
				return errors.Join(err, closeStmt(full))
			}
			*set.count(r) += int(m)
		}
		if err := closeStmt(full); err != nil {
			return err
		}
	}
	return nil
}

// closeStmt closes stmt, if any.
func closeStmt(stmt *sql.Stmt) error {
	if stmt == nil {
		return nil
	}
	return stmt.Close()
}

// sweepClientRows deletes the rows clientID got while DeleteClientCounted walked the tables
// (its transaction has committed: the client is gone), adding them to r.
func (s *Store) sweepClientRows(ctx context.Context, clientID string, r *store.ClientRemoval) error {
	keys, n, err := s.clientRowKeys(ctx, clientID)
	if err != nil || n == 0 {
		return err
	}
	var late store.ClientRemoval
	err = s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		late = store.ClientRemoval{} // a run again (writeTx) starts afresh
		return deleteClientRows(ctx, tx, clientID, keys, &late)
	})
	if err != nil {
		return err
	}
	r.Consents += late.Consents
	r.Events += late.Events
	r.Sessions += late.Sessions
	r.Requests += late.Requests
	r.Devices += late.Devices
	return nil
}
