package main

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge"
)

func claimsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "claims", Short: "Inspect what each app receives"}
	var client, login string
	var scopes []string
	preview := &cobra.Command{
		Use:     "preview",
		Short:   "Print exactly the ID token, userinfo and access-token claims a client would get for a member, and whether its access rule admits them",
		Example: "  ssobridge claims preview --client portal --login alice --scope openid --scope membership",
		RunE: func(cmd *cobra.Command, _ []string) error {
			chk, err := g.load()
			if err != nil {
				return err
			}
			a, closeAdmin, err := bridge.OpenAdmin(cmd.Context(), chk)
			if err != nil {
				return err
			}
			defer closeAdmin()
			p, err := a.ClaimsPreview(cmd.Context(), cliActor(), client, login, scopes)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(p)
		},
	}
	preview.Flags().StringVar(&client, "client", "", "client id (required)")
	preview.Flags().StringVar(&login, "login", "", "member login (required)")
	preview.Flags().StringArrayVar(&scopes, "scope", nil, "granted scope (repeatable; default: every scope the client may request)")
	_ = preview.MarkFlagRequired("client")
	_ = preview.MarkFlagRequired("login")
	cmd.AddCommand(preview)
	return cmd
}
