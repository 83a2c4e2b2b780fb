package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/bridge/store/storecopy"
)

func storeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "store", Short: "The bridge's own store: migrate its schema, copy it from SQLite to PostgreSQL, change its key-encryption key"}
	cmd.AddCommand(storeMigrateCmd(g), storeCopyCmd(g), storeRekeyCmd(g))
	return cmd
}

// versioned is a store that tells its schema version (both backends do).
type versioned interface {
	SchemaVersion(ctx context.Context) (int, error)
}

func storeMigrateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the configured store's pending schema migrations and print its version",
		Long: "Opens the store the configuration names (store.type, store.dsn), which applies pending migrations in one\n" +
			"transaction (on PostgreSQL under an advisory lock, so running it while replicas start is safe), and prints\n" +
			"the schema version. `serve` migrates at start-up too; this lets a deployment migrate first.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			chk, err := g.load()
			if err != nil {
				return err
			}
			st, err := bridge.OpenStore(ctx, chk.Config)
			if err != nil {
				return err
			}
			defer st.Close()
			v, ok := st.(versioned)
			if !ok {
				return errors.New("this store does not report a schema version")
			}
			n, err := v.SchemaVersion(ctx)
			if err != nil {
				return err
			}
			typ := chk.Config.StoreConfig().Type
			if typ == "" {
				typ = "sqlite"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "store %s: schema version %d\n", typ, n)
			return nil
		},
	}
}

func storeCopyCmd(g *globals) *cobra.Command {
	var from, to string
	var force bool
	cmd := &cobra.Command{
		Use:   "copy",
		Short: "Copy every table of a SQLite store into a PostgreSQL store (members stay signed in)",
		Long: "Copies sessions, refresh-token families, consents, subjects, signing keys, clients, installation secrets,\n" +
			"the outbox, shadow users, the audit log (every table) from a SQLite store into a PostgreSQL one, in one\n" +
			"transaction on the target. Stop the bridge first (writes after the copy starts are not copied), and keep\n" +
			"keys.encryption_key: the copied keys and secrets are sealed with it. The target must be empty unless\n" +
			"--force, which replaces its contents. Without --to, the configured store (store.type postgres) is the\n" +
			"target, so the DSN and its password need not appear on the command line; with --config, the configured\n" +
			"store timeouts (store.connect_timeout, statement_timeout, tcp_user_timeout) apply to the target either way.",
		Example: "  ssobridge store copy --from sqlite:///var/lib/ssobridge/ssobridge.db --config /etc/ssobridge/config.yaml\n" +
			"  ssobridge store copy --from /var/lib/ssobridge/ssobridge.db --to postgres://bridge@db.example.org/ssobridge",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			path, err := sqlitePath(from)
			if err != nil {
				return err
			}
			dsn := to
			var timeouts postgres.Timeouts // without a configuration: the defaults
			if dsn == "" || g.configPath != "" {
				// The configured store's timeouts (store.connect_timeout, statement_timeout,
				// tcp_user_timeout) apply to the target, whether its DSN is the configured one
				// or --to's.
				chk, err := g.load()
				if err != nil {
					return err
				}
				sc := chk.Config.StoreConfig()
				timeouts = postgres.TimeoutsOf(sc)
				if dsn == "" {
					if sc.Type != "postgres" {
						return errors.New("--to: required unless the configuration's store.type is postgres")
					}
					dsn = sc.DSN
				}
			}
			// Opening would create a missing file: say it is missing instead.
			if _, err := os.Stat(path); err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			src, err := sqlite.Open(ctx, path)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			defer src.Close()
			dst, err := postgres.Open(ctx, dsn, postgres.WithTimeouts(timeouts))
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			defer dst.Close()
			tables, err := storecopy.Copy(ctx, src, dst, storecopy.Options{Force: force})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TABLE\tROWS")
			var total int64
			for _, t := range tables {
				fmt.Fprintf(tw, "%s\t%d\n", t.Name, t.Rows)
				total += t.Rows
			}
			fmt.Fprintf(tw, "copied\t%d rows in %d tables\n", total, len(tables))
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the SQLite store: sqlite:///path/to/ssobridge.db or a file path (required)")
	f.StringVar(&to, "to", "", "the PostgreSQL store's DSN (postgres://... or host=... dbname=...); default: the configured store")
	f.BoolVar(&force, "force", false, "replace the target's contents when it is not empty")
	return cmd
}

// sqlitePath reads --from: sqlite://<path> (sqlite:///abs/path for an absolute one) or a path.
func sqlitePath(from string) (string, error) {
	p := from
	if rest, ok := strings.CutPrefix(from, "sqlite://"); ok {
		p = rest
	} else if strings.Contains(from, "://") {
		return "", fmt.Errorf("--from: %q is not a SQLite store (sqlite:///path/to/ssobridge.db)", from)
	}
	if p == "" || p == sqlite.Memory {
		return "", errors.New("--from: the SQLite store's file is required (sqlite:///path/to/ssobridge.db)")
	}
	return p, nil
}
