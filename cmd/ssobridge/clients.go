package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

func clientsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "clients", Short: "Register and manage apps (dynamic clients; static ones live in the config file)"}
	cmd.AddCommand(clientsAddCmd(g), clientsListCmd(g), clientsShowCmd(g), clientsRemoveCmd(g), clientsRotateCmd(g))
	return cmd
}

// withStore opens the configuration and the store for one CLI action.
func (g *globals) withStore(ctx context.Context, f func(cfg bridge.Config, st *sqlite.Store) error) error {
	cfg, err := g.load()
	if err != nil {
		return err
	}
	st, err := bridge.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	return f(cfg, st)
}

func operator() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

func auditCLI(ctx context.Context, st store.AuditLog, event, clientID, detail string) {
	_ = st.Audit(ctx, &store.AuditEvent{Time: time.Now(), Event: event, ClientID: clientID, Detail: "cli user " + operator() + ": " + detail})
}

func clientsAddCmd(g *globals) *cobra.Command {
	var c sso.ClientConfig
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Register an app; prints its secret once (only a hash is stored)",
		Example: `  ssobridge clients add --id portal --name "Member Portal" --redirect-uri https://portal.example.org/callback --trusted
  ssobridge clients add --id app --name "Mobile App" --public --redirect-uri org.example.app:/oauth --redirect-uri http://127.0.0.1/cb`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return g.withStore(ctx, func(cfg bridge.Config, st *sqlite.Store) error {
				for _, s := range bridge.StaticClients(cfg) {
					if s.ID == c.ID {
						return fmt.Errorf("clients[%s].id: already defined in the config file", c.ID)
					}
				}
				secret := ""
				if !c.Public {
					secret = sso.RandomToken()
					c.Secret = secret
				}
				c.Normalize()
				if err := c.Validate(); err != nil {
					return err
				}
				sc, err := sso.EncodeClient(&c, time.Now())
				if err != nil {
					return err
				}
				if err := st.CreateClient(ctx, sc); err != nil {
					if errors.Is(err, sso.ErrConflict) {
						return fmt.Errorf("a client with id %q exists already", c.ID)
					}
					return err
				}
				auditCLI(ctx, st, "admin.client_add", c.ID, "")
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "client_id:     %s\n", c.ID)
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
	_ = cmd.MarkFlagRequired("id")
	return cmd
}

func clientsListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List every client (static from the config and dynamic from the store)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return g.withStore(ctx, func(cfg bridge.Config, st *sqlite.Store) error {
				reg, err := sso.NewRegistry(ctx, st, bridge.StaticClients(cfg), time.Second)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tTYPE\tSOURCE\tREDIRECT URIS")
				for _, c := range reg.All(ctx) {
					typ, src := "confidential", "store"
					if c.Public {
						typ = "public"
					}
					if reg.IsStatic(c.ID) {
						src = "config"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, typ, src, strings.Join(c.RedirectURIs, " "))
				}
				return tw.Flush()
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
			return g.withStore(ctx, func(cfg bridge.Config, st *sqlite.Store) error {
				reg, err := sso.NewRegistry(ctx, st, bridge.StaticClients(cfg), time.Second)
				if err != nil {
					return err
				}
				c, err := reg.ClientConfig(ctx, args[0])
				if err != nil {
					return fmt.Errorf("no client %q", args[0])
				}
				shown := *c
				if shown.SecretHash != "" {
					shown.SecretHash = "(set)"
				}
				b, _ := json.MarshalIndent(shown, "", "  ")
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
			ctx := cmd.Context()
			return g.withStore(ctx, func(cfg bridge.Config, st *sqlite.Store) error {
				if _, err := st.Client(ctx, args[0]); err != nil {
					return fmt.Errorf("no dynamic client %q (clients from the config file are removed there)", args[0])
				}
				if err := st.DeleteClient(ctx, args[0]); err != nil {
					return err
				}
				auditCLI(ctx, st, "admin.client_remove", args[0], "")
				fmt.Fprintf(cmd.OutOrStdout(), "removed client %s\n", args[0])
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
			ctx := cmd.Context()
			return g.withStore(ctx, func(cfg bridge.Config, st *sqlite.Store) error {
				sc, err := st.Client(ctx, args[0])
				if err != nil {
					return fmt.Errorf("no dynamic client %q", args[0])
				}
				c, err := sso.DecodeClient(sc)
				if err != nil {
					return err
				}
				if c.Public {
					return fmt.Errorf("client %q is public and has no secret", c.ID)
				}
				secret := sso.RandomToken()
				c.SecretHash = "sha256:" + sso.HashToken(secret)
				nsc, err := sso.EncodeClient(c, time.Now())
				if err != nil {
					return err
				}
				nsc.CreatedAt = sc.CreatedAt
				if err := st.UpdateClient(ctx, nsc); err != nil {
					return err
				}
				auditCLI(ctx, st, "admin.client_rotate_secret", c.ID, "")
				fmt.Fprintf(cmd.OutOrStdout(), "client_id:     %s\nclient_secret: %s\n\nStore the secret now: it is shown only once.\n", c.ID, secret)
				return nil
			})
		},
	}
}
