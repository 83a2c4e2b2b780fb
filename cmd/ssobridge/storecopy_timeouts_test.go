package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// startupParams listens on 127.0.0.1 as a PostgreSQL server that reads one client's startup
// message, hands its parameters on, and hangs up: what a client told the server.
func startupParams(t *testing.T) (addr string, params <-chan map[string]string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan map[string]string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var n uint32
		if binary.Read(c, binary.BigEndian, &n) != nil || n < 8 || n > 1<<16 {
			return
		}
		b := make([]byte, n-4)
		if _, err := io.ReadFull(c, b); err != nil {
			return
		}
		out := map[string]string{}
		fields := bytes.Split(b[4:], []byte{0}) // after the protocol version
		for i := 0; i+1 < len(fields); i += 2 {
			if len(fields[i]) > 0 {
				out[string(fields[i])] = string(fields[i+1])
			}
		}
		ch <- out
	}()
	return ln.Addr().String(), ch
}

// TestStoreCopyTakesTheConfiguredTimeouts: store copy --to with a configuration uses the
// configuration's store timeouts (the statement timeout told to the server at connect), not
// the defaults.
func TestStoreCopyTakesTheConfiguredTimeouts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ssobridge.db")
	src, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	cfg := filepath.Join(dir, "config.yaml")
	conf := "store:\n  statement_timeout: 1234ms\n  connect_timeout: 2s\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, params := startupParams(t)
	host, port, _ := net.SplitHostPort(addr)
	dsn := "host=" + host + " port=" + port + " user=bridge dbname=ssobridge sslmode=disable"
	if _, err := run(t, "store", "copy", "--config", cfg, "--data-dir="+dir, "--from", path, "--to", dsn); err == nil {
		t.Fatal("store copy to a server that hangs up succeeded")
	}
	p := <-params
	if p["statement_timeout"] != "1234" || p["idle_in_transaction_session_timeout"] != "1234" {
		t.Fatalf("store copy --to told the server statement_timeout %q, idle_in_transaction_session_timeout %q; want the configured 1234 ms",
			p["statement_timeout"], p["idle_in_transaction_session_timeout"])
	}
}
