package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

func clientsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "clients", Short: "Register and manage apps (dynamic clients; static ones live in the config file)"}
	cmd.AddCommand(clientsAddCmd(g), clientsUpdateCmd(g), clientsListCmd(g), clientsShowCmd(g), clientsRemoveCmd(g), clientsRotateCmd(g))
	return cmd
}

// withStore opens the configuration and the store for one CLI action.
func (g *globals) withStore(ctx context.Context, f func(cfg bridge.Config, st store.Store) error) error {
	return g.withCheckedStore(ctx, func(chk *config.Checked, st store.Store) error { return f(chk.Config, st) })
}

// withCheckedStore is withStore with the checked configuration.
func (g *globals) withCheckedStore(ctx context.Context, f func(chk *config.Checked, st store.Store) error) error {
	chk, err := g.load()
	if err != nil {
		return err
	}
	st, err := bridge.OpenStore(ctx, chk.Config)
	if err != nil {
		return err
	}
	defer st.Close()
	return f(chk, st)
}

func operator() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// auditCLI records an administrative CLI action in the audit log.
func auditCLI(ctx context.Context, st store.AuditLog, event, clientID, detail string) {
	_ = st.Audit(ctx, &store.AuditEvent{Time: time.Now(), Event: event, ClientID: clientID, Detail: cliActor() + ": " + detail})
}

func clientsAddCmd(g *globals) *cobra.Command {
	var c admin.Client
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Register an app; prints its secret once (only a hash is stored)",
		Example: `  ssobridge clients add --id portal --name "Member Portal" --redirect-uri https://portal.example.org/callback --trusted
  ssobridge clients add --id app --name "Mobile App" --public --redirect-uri org.example.app:/oauth --redirect-uri http://127.0.0.1/cb`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withAdmin(cmd.Context(), func(a *admin.Service) error {
				info, secret, err := a.CreateClient(cmd.Context(), cliActor(), c)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "client_id:     %s\n", info.ID)
				if secret != "" {
					fmt.Fprintf(out, "client_secret: %s\n\nStore the secret now: it is shown only once.\n", secret)
				} else {
					fmt.Fprintln(out, "public client: no secret; the app must use PKCE (S256).")
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.ID, "id", "", "client id (required)")
	f.StringVar(&c.Name, "name", "", "name shown to members")
	f.BoolVar(&c.Public, "public", false, "public client (SPA or mobile app): no secret, PKCE required")
	f.BoolVar(&c.Trusted, "trusted", false, "first-party app: no consent page")
	f.StringArrayVar(&c.RedirectURIs, "redirect-uri", nil, "redirect URI (repeatable; exact match, loopback any port for native apps)")
	f.StringArrayVar(&c.PostLogoutRedirectURIs, "post-logout-redirect-uri", nil, "post-logout redirect URI (repeatable)")
	f.StringArrayVar(&c.GrantTypes, "grant-type", nil, "grant type (repeatable; default authorization_code and refresh_token)")
	f.StringArrayVar(&c.Scopes, "scope", nil, "extra scope the client may request (repeatable)")
	f.StringArrayVar(&c.WebOrigins, "web-origin", nil, "browser origin allowed by CORS (repeatable)")
	f.StringVar(&c.IDTokenSigningAlg, "alg", "RS256", "ID token signing algorithm: RS256, ES256 or EdDSA")
	f.StringVar(&c.BackchannelLogoutURI, "backchannel-logout-uri", "", "OIDC back-channel logout URI")
	f.StringVar(&c.FrontchannelLogoutURI, "frontchannel-logout-uri", "", "OIDC front-channel logout URI")
	f.StringVar(&c.MFA, "mfa", sso.MFAOptional, "second factor: optional, or required (no code without one; members without one enrol first)")
	f.BoolVar(&c.AllowInternalTargets, "allow-internal-targets", false, "let the back-channel logout URI be on an internal address (loopback, private, link-local...)")
	_ = cmd.MarkFlagRequired("id")
	return cmd
}

// clientsUpdateCmd changes the given settings of a dynamic client and keeps the others.
func clientsUpdateCmd(g *globals) *cobra.Command {
	var c admin.Client
	cmd := &cobra.Command{
		Use:     "update ID",
		Short:   "Change settings of a dynamic client; settings not given are kept",
		Example: `  ssobridge clients update portal --mfa required`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return g.withAdmin(ctx, func(a *admin.Service) error {
				cur, err := a.Client(ctx, cliActor(), args[0])
				if err != nil {
					return err
				}
				reg := cur.Client
				f := cmd.Flags()
				set := func(name string, apply func()) {
					if f.Changed(name) {
						apply()
					}
				}
				set("name", func() { reg.Name = c.Name })
				set("trusted", func() { reg.Trusted = c.Trusted })
				set("redirect-uri", func() { reg.RedirectURIs = c.RedirectURIs })
				set("post-logout-redirect-uri", func() { reg.PostLogoutRedirectURIs = c.PostLogoutRedirectURIs })
				set("grant-type", func() { reg.GrantTypes = c.GrantTypes })
				set("scope", func() { reg.Scopes = c.Scopes })
				set("web-origin", func() { reg.WebOrigins = c.WebOrigins })
				set("alg", func() { reg.IDTokenSigningAlg = c.IDTokenSigningAlg })
				set("backchannel-logout-uri", func() { reg.BackchannelLogoutURI = c.BackchannelLogoutURI })
				set("frontchannel-logout-uri", func() { reg.FrontchannelLogoutURI = c.FrontchannelLogoutURI })
				set("mfa", func() { reg.MFA = c.MFA })
				set("allow-internal-targets", func() { reg.AllowInternalTargets = c.AllowInternalTargets })
				info, err := a.UpdateClient(ctx, cliActor(), args[0], reg)
				if err != nil {
					return err
				}
				b, _ := json.MarshalIndent(info, "", "  ")
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Name, "name", "", "name shown to members")
	f.BoolVar(&c.Trusted, "trusted", false, "first-party app: no consent page")
	f.StringArrayVar(&c.RedirectURIs, "redirect-uri", nil, "redirect URI (repeatable; replaces the list)")
	f.StringArrayVar(&c.PostLogoutRedirectURIs, "post-logout-redirect-uri", nil, "post-logout redirect URI (repeatable; replaces the list)")
	f.StringArrayVar(&c.GrantTypes, "grant-type", nil, "grant type (repeatable; replaces the list)")
	f.StringArrayVar(&c.Scopes, "scope", nil, "scope the client may request (repeatable; replaces the list)")
	f.StringArrayVar(&c.WebOrigins, "web-origin", nil, "browser origin allowed by CORS (repeatable; replaces the list)")
	f.StringVar(&c.IDTokenSigningAlg, "alg", "", "ID token signing algorithm: RS256, ES256 or EdDSA")
	f.StringVar(&c.BackchannelLogoutURI, "backchannel-logout-uri", "", "OIDC back-channel logout URI")
	f.StringVar(&c.FrontchannelLogoutURI, "frontchannel-logout-uri", "", "OIDC front-channel logout URI")
	f.StringVar(&c.MFA, "mfa", "", "second factor: optional or required")
	f.BoolVar(&c.AllowInternalTargets, "allow-internal-targets", false, "let the back-channel logout URI be on an internal address (loopback, private, link-local...)")
	return cmd
}

func clientsListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List every client (static from the config and dynamic from the store)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return g.withAdmin(ctx, func(a *admin.Service) error {
				list, err := a.Clients(ctx, cliActor())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tTYPE\tMFA\tSOURCE\tSTATUS\tREDIRECT URIS")
				var unusable []admin.ClientInfo
				for _, c := range list {
					typ := "confidential"
					if c.Public {
						typ = "public"
					}
					mfa := c.MFA
					if mfa == "" {
						mfa = sso.MFAOptional
					}
					status := "served"
					if c.Unusable != "" {
						status = "unusable"
						unusable = append(unusable, c)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, typ, mfa, c.Source, status, strings.Join(c.RedirectURIs, " "))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				// Why each unusable client is not served, and what to do (a reason is a sentence:
				// too long for a column).
				for _, c := range unusable {
					fmt.Fprintf(cmd.OutOrStdout(), "\n%s is unusable: %s.\n  Add it again under another id (ssobridge clients add), move its app to the new client_id, then remove it (ssobridge clients remove %s).\n",
						c.ID, c.Unusable, c.ID)
				}
				return nil
			})
		},
	}
}

func clientsShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show one client's registration (never its secret)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return g.withAdmin(ctx, func(a *admin.Service) error {
				info, err := a.Client(ctx, cliActor(), args[0])
				if err != nil {
					return err
				}
				b, _ := json.MarshalIndent(info, "", "  ")
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
				return nil
			})
		},
	}
}

func clientsRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a dynamic client and revoke its tokens",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withAdmin(cmd.Context(), func(a *admin.Service) error {
				r, err := a.RemoveClient(cmd.Context(), cliActor(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed client %s: %d grants revoked; deleted: %d consents, %d undelivered events, %d session participations, %d provisioned users, %d sign-in requests, %d device authorizations\n",
					args[0], r.GrantsRevoked, r.Consents, r.Events, r.Sessions, r.ShadowUsers, r.Requests, r.Devices)
				return nil
			})
		},
	}
}

func clientsRotateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-secret ID",
		Short: "Give a dynamic confidential client a new secret (printed once); the old one stops working",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withAdmin(cmd.Context(), func(a *admin.Service) error {
				secret, err := a.RotateSecret(cmd.Context(), cliActor(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "client_id:     %s\nclient_secret: %s\n\nStore the secret now: it is shown only once.\n", args[0], secret)
				return nil
			})
		},
	}
}
