// Package replicas runs two bridge replicas as subprocesses (the ssobridge binary, built once)
// on loopback, sharing one PostgreSQL database, behind a test load balancer without sticky
// sessions, and checks what issue 15 asks of them: a sign-in on one replica refreshed on the
// other, a logout on one seen by the other, one winner when the same code or refresh token is
// exchanged on both at once, a client added with the CLI served at once, and a replica killed
// with SIGKILL during a refresh load losing no refresh token. The tests need a PostgreSQL
// superuser DSN in SSOBRIDGE_TEST_POSTGRES_DSN (each test creates and drops a database); they
// are skipped without it, except in CI (CI=true), where they fail.
package replicas
