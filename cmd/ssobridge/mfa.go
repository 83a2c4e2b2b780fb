package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge/admin"
)

func mfaCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "mfa", Short: "Members' second factors (authenticator apps, recovery codes, passkeys)"}
	cmd.AddCommand(mfaResetCmd(g))
	return cmd
}

func mfaResetCmd(g *globals) *cobra.Command {
	var f admin.Filter
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Remove every second factor of one member, end their sessions and revoke their grants",
		Long: "Remove every second factor of one member (authenticator app, recovery codes, passkeys).\n" +
			"In the same transaction every session of the member ends (their apps get back-channel\n" +
			"logout from the running server's outbox) and their grants (refresh and access tokens) are\n" +
			"revoked: they sign in again, and are told about the reset then.",
		Example: "  ssobridge mfa reset --login alice\n" +
			"  ssobridge mfa reset --subject <sub>",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return g.withAdmin(ctx, func(a *admin.Service) error {
				n, err := a.ResetFactors(ctx, cliActor(), f)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %d second factor(s)\n", n)
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Login, "login", "", "the member's login (looked up in the AMS)")
	fl.StringVar(&f.Subject, "subject", "", "the member's subject (sub claim)")
	return cmd
}
