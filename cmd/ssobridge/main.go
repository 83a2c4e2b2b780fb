// Command ssobridge is the single binary of ssobridge: an OpenID Connect provider in front of an
// association's membership system. `ssobridge serve` runs it; the other subcommands administer
// clients, tokens, sessions and the connection to the AMS.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/logging"
)

func main() {
	// The process records no traces. zitadel/oidc starts an OpenTelemetry span in every
	// endpoint through the global tracer, which without a provider allocates a span it keeps
	// in case one is set later (about 6% of a refresh grant's allocations): say now that none
	// will be. An operator wanting traces would set a real provider here instead.
	otel.SetTracerProvider(noop.NewTracerProvider())
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "ssobridge:", err)
		os.Exit(1)
	}
}

// globals are the flags every subcommand shares.
type globals struct {
	// log is the logger built from the loaded configuration (load sets it).
	log *slog.Logger
	// bufferLog makes load write the log through logBuffer (serve: batches of lines instead of
	// a write per request line); whoever sets it closes logBuffer before returning.
	bufferLog bool
	logBuffer *logging.Buffered
	// logTo is where the log goes (nil: standard error).
	logTo      io.Writer
	configPath string
	listen     string
	issuer     string
	dataDir    string
	// metadataClient fetches --metadata-url (nil: metadataHTTPClient's); tests set it.
	metadataClient *http.Client
}

func rootCmd() *cobra.Command { return rootCmdWith(&globals{}) }

// rootCmdWith is the command tree on g (tests set where the log goes).
func rootCmdWith(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "ssobridge",
		Short:         "OpenID Connect single sign-on for apps, on top of the association's membership system",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	f := root.PersistentFlags()
	f.StringVar(&g.configPath, "config", os.Getenv("SSOBRIDGE_CONFIG"), "YAML configuration file (or SSOBRIDGE_CONFIG); none runs the demo on embedded defaults")
	f.StringVar(&g.listen, "listen", "", "listen address host:port (overrides the config)")
	f.StringVar(&g.issuer, "issuer", "", "issuer URL (overrides the config)")
	f.StringVar(&g.dataDir, "data-dir", "", "data directory (overrides the config)")
	root.AddCommand(serveCmd(g), clientsCmd(g), legacyCmd(g), claimsCmd(g), shadowCmd(g), tokensCmd(g), sessionsCmd(g),
		mfaCmd(g), keysCmd(g),
		storeCmd(g), versionCmd(), configCmd(), samlCmd(g))
	return root
}

// load reads, overrides and checks the configuration (once: the result is what the runtime is
// built from).
func (g *globals) load() (*config.Checked, error) {
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return nil, err
	}
	if g.listen != "" {
		cfg.Listen = g.listen
	}
	if g.issuer != "" {
		cfg.Issuer = g.issuer
	}
	if g.dataDir != "" {
		cfg.DataDir = g.dataDir
	}
	var out io.Writer = os.Stderr
	if g.logTo != nil {
		out = g.logTo
	}
	if g.bufferLog && g.logBuffer == nil {
		g.logBuffer = logging.NewBuffered(out, logBufferSize, logBufferEvery)
	}
	if g.logBuffer != nil {
		out = g.logBuffer
	}
	g.log = newLogger(cfg, out)
	chk, err := cfg.Check(g.log)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	return chk, nil
}

// The server's log buffer: lines are written in batches of up to logBufferSize bytes, at the
// latest logBufferEvery after they were logged (warnings and errors at once).
const (
	logBufferSize  = 32 << 10
	logBufferEvery = 100 * time.Millisecond
)

// newLogger builds the process's logger (log.format, log.level) writing to w: its level can
// be changed at run time through the admin API, and its lines carry the request's id, client
// and subject.
func newLogger(cfg bridge.Config, w io.Writer) *slog.Logger {
	level, _ := logging.ParseLevel(cfg.Log.Level) // validated by Check; info when not
	l := logging.New(w, cfg.Log.Format, level)
	slog.SetDefault(l)
	return l
}
