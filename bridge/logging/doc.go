// Package logging builds the process's slog logger: text or JSON lines whose level can be
// changed while the process runs (a slog.LevelVar the admin API sets), and which carry the
// request's id, client id and member subject once they are known.
//
// The router puts a Fields in each request's context (WithRequest); the parts that learn who
// the request is for (the audit log, the token endpoint's observer, the refresh grant's check)
// call Annotate; the Handler adds request_id, client_id and subject to every line logged with
// that context. Login names, passwords and tokens are never among them.
//
// The server writes its lines through a Buffered: batches of lines every 100 ms (sooner when
// the buffer fills or a warning comes) instead of one write per request line, and all of them
// on shutdown.
package logging
