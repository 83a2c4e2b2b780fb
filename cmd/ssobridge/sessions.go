package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge/admin"
)

func sessionsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "sessions", Short: "List and end members' single sign-on sessions"}
	cmd.AddCommand(sessionsListCmd(g), sessionsRevokeCmd(g))
	return cmd
}

func sessionsListCmd(g *globals) *cobra.Command {
	var f admin.Filter
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List live sessions, optionally of one member, client or session id",
		Example: "  ssobridge sessions list --login alice",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return g.withAdmin(ctx, func(a *admin.Service) error {
				list, err := a.Sessions(ctx, cliActor(), f)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tLOGIN\tSUBJECT\tCLIENTS\tSIGNED IN\tLAST SEEN\tEXPIRES")
				for _, s := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Login, s.Subject, strings.Join(s.Clients, " "),
						s.AuthTime.Local().Format(time.DateTime), s.LastSeen.Local().Format(time.DateTime), s.ExpiresAt.Local().Format(time.DateTime))
				}
				return tw.Flush()
			})
		},
	}
	filterFlags(cmd, &f, "session id")
	return cmd
}

func sessionsRevokeCmd(g *globals) *cobra.Command {
	var f admin.Filter
	cmd := &cobra.Command{
		Use:     "revoke",
		Short:   "End sessions by member, client or id (issued tokens stay until `tokens revoke`)",
		Example: "  ssobridge sessions revoke --login alice\n  ssobridge sessions revoke --id <session id>",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return g.withAdmin(ctx, func(a *admin.Service) error {
				n, err := a.EndSessions(ctx, cliActor(), f)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "ended %d session(s)\n", n)
				return nil
			})
		},
	}
	filterFlags(cmd, &f, "session id")
	return cmd
}
