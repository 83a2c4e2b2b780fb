package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/legacy"
)

func legacyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "legacy", Short: "Check the connection to the AMS (database and token endpoint)"}
	var login string
	var token bool
	check := &cobra.Command{
		Use:   "check",
		Short: "Run every configured query for a login (roles per source, membership standing, the AMS's two clocks, READ_COMMITTED_SNAPSHOT on SQL Server), or test the AMS token endpoint, and explain what is wrong",
		Example: `  ssobridge legacy check --config ssobridge.yaml --login jsmith
  ssobridge legacy check --config ssobridge.yaml --token`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if login == "" && !token {
				return errors.New("give --login NAME, --token, or both")
			}
			chk, err := g.load()
			if err != nil {
				return err
			}
			cfg := chk.Config
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			out := cmd.OutOrStdout()
			var errs []error
			if login != "" {
				// The standing is shown as the tokens carry it: the policy's grace period and
				// standing_rule.
				eng := chk.Policy
				standing := func(m *legacy.Member, now time.Time) legacy.Membership {
					return eng.Membership(m, "", "", now)
				}
				if cfg.Legacy.IsDemo() {
					fmt.Fprintln(out, "legacy.dsn is not set: checking the embedded demo database.")
				} else {
					fmt.Fprintf(out, "Checking the AMS directory (legacy.type %s).\n", cfg.Legacy.Type)
				}
				conn, err := bridge.OpenConnector(ctx, cfg, legacy.OpenOptions{Standing: standing})
				if err != nil {
					return err
				}
				defer conn.Close()
				d, ok := conn.(legacy.Diagnoser)
				if !ok {
					return fmt.Errorf("legacy.type %s: this directory cannot be checked", cfg.Legacy.Type)
				}
				errs = append(errs, d.Diagnose(ctx, login, out))
			}
			if token {
				// The connector's configuration tests its AMS token endpoint (legacy.TokenChecker).
				d, err := cfg.Directory()
				if tc, ok := d.(legacy.TokenChecker); err == nil && ok {
					errs = append(errs, tc.CheckToken(ctx, out))
				} else if err == nil {
					errs = append(errs, fmt.Errorf("legacy.type %s has no AMS token endpoint to check", cfg.Legacy.Type))
				} else {
					errs = append(errs, err)
				}
			}
			if err := errors.Join(errs...); err != nil {
				return fmt.Errorf("check failed: %w", err)
			}
			fmt.Fprintln(out, "\nNo problems found.")
			return nil
		},
	}
	check.Flags().StringVar(&login, "login", "", "the login to look up (its password is never asked for)")
	check.Flags().BoolVar(&token, "token", false, "test the AMS token endpoint with the configured client")
	cmd.AddCommand(check)
	return cmd
}
