package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/admin"
)

func tokensCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "tokens", Short: "List and revoke members' grants (refresh-token families and their access tokens)"}
	cmd.AddCommand(tokensListCmd(g), tokensRevokeCmd(g))
	return cmd
}

// filterFlags adds --login, --subject, --client and --id.
func filterFlags(cmd *cobra.Command, f *admin.Filter, idHelp string) {
	fl := cmd.Flags()
	fl.StringVar(&f.Login, "login", "", "the member's login (looked up in the AMS)")
	fl.StringVar(&f.Subject, "subject", "", "the member's subject (sub claim)")
	fl.StringVar(&f.Client, "client", "", "client id")
	fl.StringVar(&f.ID, "id", "", idHelp)
}

// withAdmin opens the administration (bridge.OpenAdmin) for one CLI action.
func (g *globals) withAdmin(ctx context.Context, fn func(a *admin.Service) error) error {
	chk, err := g.load()
	if err != nil {
		return err
	}
	a, closeAdmin, err := bridge.OpenAdmin(ctx, chk)
	if err != nil {
		return err
	}
	defer closeAdmin()
	return fn(a)
}

func cliActor() string { return "cli user " + operator() }

func tokensListCmd(g *globals) *cobra.Command {
	var f admin.Filter
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List live grants, optionally of one member, client or grant id",
		Example: "  ssobridge tokens list --login alice\n  ssobridge tokens list --client portal",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return g.withAdmin(ctx, func(a *admin.Service) error {
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
	var f admin.Filter
	cmd := &cobra.Command{
		Use:     "revoke",
		Short:   "Revoke grants (refresh tokens and the access tokens issued with them) by member, client or id",
		Example: "  ssobridge tokens revoke --login alice\n  ssobridge tokens revoke --login alice --client portal\n  ssobridge tokens revoke --id <grant id>",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return g.withAdmin(ctx, func(a *admin.Service) error {
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
