package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge/admin"
)

func keysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "List the signing keys, or withdraw one whose private key may be out"}
	cmd.AddCommand(keysListCmd(g), keysRetireCmd(g))
	return cmd
}

func keysListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the published signing keys: kid, algorithm, when each signs, until when it is in JWKS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return g.withAdmin(ctx, func(a *admin.Service) error {
				list, err := a.SigningKeys(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(list)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KID\tALG\tSIGNS FROM\tSIGNS UNTIL\tIN JWKS UNTIL\t")
				for _, k := range list {
					signing := ""
					if k.Signing {
						signing = "signing now"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.SignsFrom.Local().Format(time.DateTime),
						k.SignsUntil.Local().Format(time.DateTime), k.InJWKSUntil.Local().Format(time.DateTime), signing)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func keysRetireCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "retire KID",
		Short: "Withdraw a signing key now (its private key may be out): it leaves JWKS, tokens it signed stop verifying, a successor signs at once",
		Long: "Withdraws the signing key KID at once, for a key whose private key may be out (a leaked backup\n" +
			"together with keys.encryption_key, a host compromise): it signs no more and leaves JWKS now,\n" +
			"so ID tokens and JWT access tokens it signed no longer verify at this provider (userinfo,\n" +
			"introspection, id_token_hint) nor at a relying party once it fetches JWKS again. When it is the\n" +
			"key that signs its algorithm, a new key of that algorithm signs from now. A running server\n" +
			"learns it at once on PostgreSQL, within seconds on SQLite. Members stay signed in; tokens it\n" +
			"signed are refused, and refresh tokens get new ones signed by the successor. Audited.",
		Example: "  ssobridge keys list\n  ssobridge keys retire Zk3q8bVh1lN0x2Yc",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return g.withAdmin(ctx, func(a *admin.Service) error {
				succ, err := a.RetireSigningKey(ctx, cliActor(), args[0])
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "withdrawn: %s (it signs no more and has left JWKS)\n", args[0])
				if succ != nil {
					fmt.Fprintf(out, "successor: %s signs %s from now until %s\n", succ.ID, succ.Algorithm, succ.SignsUntil.Local().Format(time.DateTime))
				}
				return nil
			})
		},
	}
}
