package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// freeAddr returns a loopback address nothing listens on (just now).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestServeAdminPortTaken: a taken admin port stops start-up before anything is served, and
// the public port is released (it used to stay bound and serving until the process exited).
func TestServeAdminPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	public := freeAddr(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	body := "issuer: http://127.0.0.1:" + strings.Split(public, ":")[1] + "\n" +
		"admin:\n  listen: " + taken.Addr().String() + "\n  token: 0123456789abcdef0123456789abcdef\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = run(t, "serve", "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--listen", public)
	if err == nil || !strings.Contains(err.Error(), "admin.listen") {
		t.Fatalf("want an admin.listen error, got %v", err)
	}
	l, err := net.Listen("tcp", public)
	if err != nil {
		t.Fatalf("the public port is still held after start-up failed: %v", err)
	}
	l.Close()
}
