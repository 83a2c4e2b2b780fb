package main

import (
	"runtime"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/procmem"
)

// TestR4EarlyDropReadsSeparatorsAndUnknownFlagsAsCobra (review s27 R4-2): the command lines
// TestEarlyDropReadsCommandsAsCobra does not try. Cobra's command search (stripFlags) ends at
// "--", skips empty arguments, and takes the next argument as the value of any "--name" or
// "-x" without "=" that it does not know as a flag without a value (--help and -h included:
// the help flag is added after the search). The C reading before initialisation took
// "ssobridge -- serve", "ssobridge --help serve" and "ssobridge -h serve" for serve runs (and
// dropped the page cache for a help text), and missed serve after an empty argument.
func TestR4EarlyDropReadsSeparatorsAndUnknownFlagsAsCobra(t *testing.T) {
	if e, _ := procmem.EarlyDrop(); e == procmem.EarlyNotBuilt {
		t.Skipf("no drop before initialisation in this build (%s, cgo off?)", runtime.GOOS)
	}
	for _, a := range [][]string{
		{"--", "serve"},
		{"--config", "c.yaml", "--", "serve"},
		{"--help", "serve"},
		{"-h", "serve"},
		{"--verbose", "serve"},
		{"-x", "v", "serve"},
		{"-", "serve"},
		{"-abc", "serve"},
		{"", "serve"},
		{"--config", "c.yaml", "", "serve"},
		{"--config=c.yaml", "--", "serve"},
	} {
		root := rootCmd()
		cmd, _, err := root.Find(a)
		cobraServe := err == nil && cmd.Name() == "serve"
		if got := procmem.IsServeCommandLine(append([]string{"ssobridge"}, a...)); got != cobraServe {
			t.Errorf("%q: procmem reads serve=%v, cobra's search finds %q (err %v)", a, got, cmd.Name(), err)
		}
	}
}
