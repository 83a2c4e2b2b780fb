package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

func tokensCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "tokens", Short: "List and revoke members' grants (refresh-token families and their access tokens)"}
	cmd.AddCommand(tokensListCmd(g), tokensRevokeCmd(g))
	return cmd
}

// filterFlags adds --login, --subject, --client and --id.
func filterFlags(cmd *cobra.Command, f *bridge.Filter, idHelp string) {
	fl := cmd.Flags()
	fl.StringVar(&f.Login, "login", "", "the member's login (looked up in the AMS)")
	fl.StringVar(&f.Subject, "subject", "", "the member's subject (sub claim)")
	fl.StringVar(&f.Client, "client", "", "client id")
	fl.StringVar(&f.ID, "id", "", idHelp)
}

// withAdmin opens the store and, when a login must be resolved, the member directory.
func (g *globals) withAdmin(ctx context.Context, f bridge.Filter, fn func(a *bridge.Admin) error) error {
	return g.withStore(ctx, func(cfg bridge.Config, st store.Store) error {
		var dir legacy.Directory
		if f.Login != "" {
			d, _, closeDir, err := bridge.OpenDirectory(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				return fmt.Errorf("member directory (to resolve --login; or give --subject): %w", err)
			}
			defer closeDir()
			dir = d
		}
		a, err := bridge.NewAdmin(ctx, cfg, st, dir, nil)
		if err != nil {
			return err
		}
		return fn(a)
	})
}

func cliActor() string { return "cli user " + operator() }

func tokensListCmd(g *globals) *cobra.Command {
	var f bridge.Filter
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List live grants, optionally of one member, client or grant id",
		Example: "  ssobridge tokens list --login alice\n  ssobridge tokens list --client portal",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return g.withAdmin(ctx, f, func(a *bridge.Admin) error {
				list, err := a.Tokens(ctx, cliActor(), f)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tCLIENT\tLOGIN\tSUBJECT\tSCOPES\tCREATED\tEXPIRES")
				for _, t := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.ClientID, t.Login, t.Subject,
						strings.Join(t.Scopes, " "), t.CreatedAt.Local().Format(time.DateTime), t.ExpiresAt.Local().Format(time.DateTime))
				}
				return tw.Flush()
			})
		},
	}
	filterFlags(cmd, &f, "grant id (refresh-token family)")
	return cmd
}

func tokensRevokeCmd(g *globals) *cobra.Command {
	var f bridge.Filter
	cmd := &cobra.Command{
		Use:     "revoke",
		Short:   "Revoke grants (refresh tokens and the access tokens issued with them) by member, client or id",
		Example: "  ssobridge tokens revoke --login alice\n  ssobridge tokens revoke --login alice --client portal\n  ssobridge tokens revoke --id <grant id>",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return g.withAdmin(ctx, f, func(a *bridge.Admin) error {
				n, err := a.RevokeTokens(ctx, cliActor(), f)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked %d grant(s)\n", n)
				return nil
			})
		},
	}
	filterFlags(cmd, &f, "grant id (refresh-token family)")
	return cmd
}
