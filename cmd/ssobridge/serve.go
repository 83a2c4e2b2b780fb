package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/heapfloor"
	"github.com/ssobridge/ssobridge/bridge/procmem"
	"github.com/ssobridge/ssobridge/bridge/web"
)

func serveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the OpenID provider (embedded demo defaults when no config is given)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The log's lines are written in batches; the last ones when serve returns, after
			// the shutdown's (deferred first, so run last).
			g.bufferLog = true
			defer func() {
				if g.logBuffer != nil {
					_ = g.logBuffer.Close()
				}
			}()
			chk, err := g.load()
			if err != nil {
				return err
			}
			cfg, log := chk.Config, g.log
			setGCPercent(log, cfg.Memory.GCPercent, os.Getenv("GOGC"))
			// Package initialisation touched code and data all over the binary, and the kernel
			// mapped it in large runs (readahead, fault-around): with memory.binary_pages evict,
			// let go of all of it now, so that the rest of start-up maps only what it uses.
			pages := cfg.Memory.BinaryPages
			earlyDrop(log, pages)
			if pages == "evict" {
				releasePages(log, "initialisation", true)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			app, err := bridge.Open(ctx, chk, log)
			if err != nil {
				return err
			}
			defer app.Close()
			ln, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			srv := httpServer(app.Server.Handler())
			// The background work stops (deliveries in flight recorded) before the store closes.
			runCtx, stopRun := context.WithCancel(ctx)
			runDone := make(chan struct{})
			go func() { app.Server.Run(runCtx); close(runDone) }()
			defer func() { stopRun(); <-runDone }()
			banner(cmd.OutOrStdout(), app)
			log.Info("listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer)
			// Both listeners are open before either serves: a taken admin port stops start-up
			// with nothing served.
			var admin *http.Server
			var aln net.Listener
			if h := app.Server.AdminHandler(); h != nil {
				if aln, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
					ln.Close()
					return fmt.Errorf("admin.listen: %w", err)
				}
				admin = httpServer(h)
			}
			errc := make(chan error, 2)
			go func() { errc <- srv.Serve(web.LazyDeadlines(ln, web.DeadlineTick)) }()
			if admin != nil {
				log.Info("admin API listening", "addr", aln.Addr().String())
				go func() { errc <- admin.Serve(web.LazyDeadlines(aln, web.DeadlineTick)) }()
			}
			// Start-up is over: give back the binary's pages it touched (bridge/procmem), and
			// let the heap grow to memory.heap_floor_mb between collections from now on (start-up's
			// own garbage is collected at Go's minimum).
			if pages != "keep" {
				releasePages(log, "start-up", pages == "evict")
				if every := cfg.Memory.ReleaseEvery; every > 0 {
					go releaseEvery(ctx, log, every)
				}
			}
			defer startHeapFloor(log, cfg.Memory.HeapFloorMB, cfg.Memory.GCPercent, os.Getenv("GOGC")).Stop()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			log.Info("shutting down")
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if admin != nil {
				if err := admin.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("admin API shutdown", "err", err)
				}
			}
			if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
}

// The HTTP servers' bounds (both listeners). A keep-alive connection costs net/http six read
// deadlines and two write deadlines per request whatever these are (Go 1.26: the header and
// the whole-request read deadlines are set apart even when equal), so they are chosen for
// what they stop, not for speed; both listeners are served through web.LazyDeadlines, which
// records the deadlines and applies them once passed (within web.DeadlineTick) instead of a
// runtime timer for each:
//   - readHeaderTimeout: a client has this long from the first byte of a request to the end of
//     its header (slowloris: a connection trickling a header is closed after 10 s);
//   - readTimeout: ... and to the end of its body: a browser on a slow uplink posting a large
//     SAML response or a console form (a 100 KB SAML POST takes 13 s at 64 kbit/s; bodies are
//     bounded at 1 MiB, web.MaxRequestBody);
//   - writeTimeout: from the end of the request's header to the end of the answer (a client that
//     does not read its answer is dropped);
//   - idleTimeout: how long a kept-alive connection may wait for its next request;
//   - maxHeaderBytes: the largest request header taken (431 above it).
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// httpServer is an HTTP server for h with the bounds above, whose connections (served through
// web.LazyDeadlines) park net/http's background read while a request runs (web.BackgroundReads).
func httpServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes,
		ConnState: web.BackgroundReads(nil)}
}

// setGCPercent sets the garbage collector's target to percent (memory.gc_percent), unless the
// GOGC environment variable (env) is set: the runtime read it at start, and it stands.
func setGCPercent(log *slog.Logger, percent int, env string) {
	if env != "" {
		log.Debug("memory.gc_percent not applied: GOGC is set", "GOGC", env)
		return
	}
	debug.SetGCPercent(percent)
}

// startHeapFloor keeps the heap goal at floorMB or above (memory.heap_floor_mb) with the
// collector's target percent (memory.gc_percent), unless the GOGC environment variable (env) is
// set: then GOGC alone stands, as for setGCPercent.
func startHeapFloor(log *slog.Logger, floorMB, percent int, env string) *heapfloor.Floor {
	if env != "" {
		if floorMB > 0 {
			log.Debug("memory.heap_floor_mb not applied: GOGC is set", "GOGC", env)
		}
		floorMB = 0
	}
	return heapfloor.Start(uint64(floorMB)<<20, percent)
}

// earlyDrop logs what the drop of the executable's page cache before package initialisation
// did (bridge/procmem.EarlyDrop): it runs before the configuration is read, so only the
// environment (procmem.EnvBinaryPages) can turn it off.
func earlyDrop(log *slog.Logger, pages string) {
	e, err := procmem.EarlyDrop()
	logEarlyDrop(log, pages, e, err)
}

// logEarlyDrop logs outcome e (err: why it failed) of the drop before initialisation under
// memory.binary_pages pages. A failure (a binary the service user may run but not read, mode
// 0711: at every start) is a warning under evict only; under keep or unmap no drop was asked
// for (review s27 R4-3). An executable not written within the last 10 minutes (installed,
// packaged, an image's) is left alone (review s27 R4-4): a debug line says so ("left: not
// recently written"), and memory.binary_pages alone decides.
func logEarlyDrop(log *slog.Logger, pages string, e procmem.Early, err error) {
	switch {
	case err != nil && pages == "evict":
		log.Warn("executable pages not dropped from the page cache before initialisation", "err", err)
	case err != nil:
		log.Debug("executable pages not dropped from the page cache before initialisation", "err", err,
			"memory.binary_pages", pages)
	case e == procmem.EarlyDropped && pages != "evict":
		log.Info("the executable was written within the last 10 minutes (a fresh build), so its pages were dropped "+
			"from the page cache before the configuration was read; set "+procmem.EnvBinaryPages+"="+pages+
			" in the environment to skip that too", "memory.binary_pages", pages)
	default:
		log.Debug("executable page cache before initialisation", "outcome", e.String())
	}
}

// releasePages releases the executable's pages (procmem.ReleaseStartupPages) after phase.
func releasePages(log *slog.Logger, phase string, evict bool) {
	if n, err := procmem.ReleaseStartupPages(evict); err != nil {
		log.Warn("executable pages not released", "after", phase, "err", err)
	} else {
		log.Debug("executable pages released", "after", phase, "bytes", n, "evict", evict)
	}
}

// releaseEvery unmaps, every interval until ctx ends, the executable's and the libraries' pages
// mapped since the last time (procmem.Trimmer; memory.release_every). A failure is logged once
// and ends the releases: it is the same failure at every tick (smaps unreadable).
func releaseEvery(ctx context.Context, log *slog.Logger, every time.Duration) {
	tr, err := procmem.NewTrimmer()
	if err != nil {
		log.Warn("executable pages will not be released every memory.release_every", "err", err)
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, trimmed, err := tr.Trim()
		if err != nil {
			log.Warn("executable pages will not be released every memory.release_every", "err", err)
			return
		}
		if trimmed {
			log.Debug("executable pages released", "after", "memory.release_every", "bytes", n)
		}
	}
}

// banner tells a newcomer what to open.
func banner(w io.Writer, app *bridge.App) {
	cfg := app.Config
	fmt.Fprintf(w, "\nssobridge is running: %s\n", cfg.Issuer)
	fmt.Fprintf(w, "  discovery   %s/.well-known/openid-configuration\n", cfg.Issuer)
	if cfg.PlaygroundEnabled() {
		fmt.Fprintf(w, "  playground  %s/playground   (sign in as an app would)\n", cfg.Issuer)
	}
	for _, l := range app.Links() {
		fmt.Fprintf(w, "  %-11s %s\n", l[0], l[1])
	}
	if app.Demo {
		fmt.Fprintln(w, "\nDemo members (embedded demo AMS database):")
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  LOGIN\tPASSWORD\tWHAT IT SHOWS")
		for _, d := range bridge.DemoLogins() {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", d.Login, d.Password, d.Description)
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
}
