package sqlite

import (
	"context"
	"database/sql"

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
// their keys, each row only if it still is the client's (session 24, BenchmarkDeleteClient).
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
	// del deletes one of them by its key (?1) if it still is the client's (?2): a search by
	// primary key (TestClientRemovalDeletesByKey).
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
		del:   `DELETE FROM consents WHERE subject = ?1 AND client_id = ?2`,
		count: func(r *store.ClientRemoval) *int { return &r.Consents },
	},
	{ // its outbox events not delivered (pending, in flight, dead)
		keys:  `SELECT seq FROM outbox WHERE client_id = ?1 AND state <> 'delivered'`,
		del:   `DELETE FROM outbox WHERE seq = ?1 AND client_id = ?2 AND state <> 'delivered'`,
		count: func(r *store.ClientRemoval) *int { return &r.Events },
	},
	{ // its place in every session
		keys:  `SELECT session_id FROM session_clients WHERE client_id = ?1`,
		del:   `DELETE FROM session_clients WHERE session_id = ?1 AND client_id = ?2`,
		count: func(r *store.ClientRemoval) *int { return &r.Sessions },
	},
	{ // its sign-in requests (pending ones, issued codes)
		keys:  `SELECT id FROM auth_requests WHERE client_id = ?1`,
		del:   `DELETE FROM auth_requests WHERE id = ?1 AND client_id = ?2`,
		count: func(r *store.ClientRemoval) *int { return &r.Requests },
	},
	{ // its device authorizations
		keys:  `SELECT device_code_hash FROM device_authorizations WHERE client_id = ?1`,
		del:   `DELETE FROM device_authorizations WHERE device_code_hash = ?1 AND client_id = ?2`,
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

// deleteClientRows deletes, in tx, the rows of keys (clientRowKeys) that are still clientID's,
// and adds how many of each set it deleted to r.
func deleteClientRows(ctx context.Context, tx *sql.Tx, clientID string, keys [][]any, r *store.ClientRemoval) error {
	for i, set := range clientRowSets {
		if len(keys[i]) == 0 {
			continue
		}
		stmt, err := tx.PrepareContext(ctx, set.del)
		if err != nil {
			return err
		}
		for _, k := range keys[i] {
			res, err := stmt.ExecContext(ctx, k, clientID)
			if err != nil {
				stmt.Close()
				return err
			}
			m, err := res.RowsAffected()
			if err != nil {
				stmt.Close()
				return err
			}
			*set.count(r) += int(m)
		}
		if err := stmt.Close(); err != nil {
			return err
		}
	}
	return nil
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
