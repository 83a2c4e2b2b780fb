package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge/admin"
)

func mfaCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "mfa", Short: "Members' second factors (authenticator apps, recovery codes, passkeys)"}
	cmd.AddCommand(mfaResetCmd(g), mfaInviteCmd(g))
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

func mfaInviteCmd(g *globals) *cobra.Command {
	var f admin.Filter
	cmd := &cobra.Command{
		Use:   "invite [login]",
		Short: "Issue a one-time invitation code that lets one member set up a first second factor",
		Long: "Issue a one-time invitation code for one member (by login, or --subject). With\n" +
			"mfa.first_enrolment: invitation, a member types it with their first second factor\n" +
			"(authenticator app or passkey); it is used once, and an earlier unused one of the member\n" +
			"stops working. The code is printed this once (the store keeps its hash only): hand it to\n" +
			"the member yourself, by another way than the member's e-mail if that may be taken over.",
		Example: "  ssobridge mfa invite alice\n" +
			"  ssobridge mfa invite --subject <sub>",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if f.Login != "" {
					return fmt.Errorf("give the login once: as the argument or --login")
				}
				f.Login = args[0]
			}
			ctx := cmd.Context()
			return g.withAdmin(ctx, func(a *admin.Service) error {
				inv, err := a.IssueInvite(ctx, cliActor(), f)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "invitation code: %s\nfor subject:     %s\nexpires:         %s\n",
					inv.Code, inv.Subject, inv.ExpiresAt.Local().Format(time.DateTime))
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Login, "login", "", "the member's login (looked up in the AMS)")
	fl.StringVar(&f.Subject, "subject", "", "the member's subject (sub claim)")
	return cmd
}
