package main

import (
	"bytes"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/ssobridge/ssobridge/bridge/procmem"
)

// TestEarlyDropReadsCommandsAsCobra: the drop of the executable's page cache before package
// initialisation (bridge/procmem, in C: before the Go runtime starts) recognises a serve run
// from the raw command line; it must agree with the command cobra runs, root flags that take
// a value included. A new root flag with a value, unknown to procmem, fails here.
func TestEarlyDropReadsCommandsAsCobra(t *testing.T) {
	if e, _ := procmem.EarlyDrop(); e == procmem.EarlyNotBuilt {
		t.Skipf("no drop before initialisation in this build (%s, cgo off?)", runtime.GOOS)
	}
	root := rootCmd()
	var args [][]string
	for _, a := range [][]string{
		{"serve"}, {"keys", "list"}, {"version"}, {}, {"--help"}, {"serve", "--config", "c.yaml"},
		{"--config", "serve", "version"}, {"--config=c.yaml", "serve"},
	} {
		args = append(args, a)
	}
	// Every root flag, with and without a value, before serve and before another command.
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		if f.Value.Type() == "bool" {
			args = append(args, []string{"--" + f.Name, "serve"}, []string{"--" + f.Name, "version"})
			return
		}
		args = append(args, []string{"--" + f.Name, "serve", "version"}, []string{"--" + f.Name, "v", "serve"},
			[]string{"--" + f.Name + "=v", "serve"})
	})
	for _, a := range args {
		cmd, _, err := root.Find(a)
		cobraServe := err == nil && cmd.Name() == "serve"
		if got := procmem.IsServeCommandLine(append([]string{"ssobridge"}, a...)); got != cobraServe {
			t.Errorf("%q: procmem reads serve=%v, cobra runs %q (err %v)", a, got, cmd.Name(), err)
		}
	}
}

// TestEarlyDropLogSaysWhichCase (review s27 R4-4): serve's line about the drop before
// initialisation says which case applied: a fresh build's pages dropped (info under keep or
// unmap, which did not ask for it), or an installed binary left alone (debug: nothing was done
// that the configuration did not ask for).
func TestEarlyDropLogSaysWhichCase(t *testing.T) {
	for _, tc := range []struct {
		pages string
		e     procmem.Early
		want  []string
	}{
		{"keep", procmem.EarlyDropped, []string{"level=INFO", "written within the last 10 minutes", procmem.EnvBinaryPages + "=keep"}},
		{"unmap", procmem.EarlyDropped, []string{"level=INFO", "written within the last 10 minutes", procmem.EnvBinaryPages + "=unmap"}},
		{"keep", procmem.EarlyNotRecent, []string{"level=DEBUG", `outcome="left: not recently written"`}},
		{"evict", procmem.EarlyNotRecent, []string{"level=DEBUG", `outcome="left: not recently written"`}},
		{"evict", procmem.EarlyDropped, []string{"level=DEBUG", "outcome=dropped"}},
	} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		logEarlyDrop(log, tc.pages, tc.e, nil)
		for _, w := range tc.want {
			if !strings.Contains(buf.String(), w) {
				t.Errorf("memory.binary_pages %s, outcome %s: logged %q, want %s in it", tc.pages, tc.e, buf.String(), w)
			}
		}
	}
}
