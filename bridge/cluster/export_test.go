package cluster

import "context"

// HoldSilently takes the named lease on a lease connection as Lead opens it, then never uses
// that connection again and never closes it: a holder whose host froze or vanished (its socket
// stays open on the server's side, nothing more comes from it). ok is whether it got the lease.
func (p *Postgres) HoldSilently(ctx context.Context, name string) (ok bool, err error) {
	conn, err := p.connectLease(ctx, name)
	if err != nil {
		return false, err
	}
	err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey(name)).Scan(&ok)
	return ok, err
}
