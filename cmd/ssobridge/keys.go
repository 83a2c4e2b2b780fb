package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/admin"
)

func keysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "List the signing keys (OIDC, or SAML with --saml), or withdraw one whose private key may be out"}
	cmd.AddCommand(keysListCmd(g), keysRetireCmd(g))
	return cmd
}

func keysListCmd(g *globals) *cobra.Command {
	var asJSON, samlKeys bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the published signing keys: kid, algorithm, when each signs, until when it is in JWKS (--saml: in the SAML metadata)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return g.withAdmin(ctx, func(a *admin.Service) error {
				if samlKeys {
					return listSAMLKeys(cmd, a, asJSON)
				}
				list, err := a.SigningKeys(ctx, cliActor())
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
	cmd.Flags().BoolVar(&samlKeys, "saml", false, "list the SAML identity provider's signing keys (those in its metadata) instead")
	return cmd
}

func listSAMLKeys(cmd *cobra.Command, a *admin.Service, asJSON bool) error {
	list, err := a.SAMLSigningKeys(cmd.Context(), cliActor())
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tSIGNS FROM\tSIGNS UNTIL\tIN METADATA UNTIL\tCERTIFICATE SHA-256\t")
	for _, k := range list {
		signing := ""
		if k.Signing {
			signing = "signing now"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.SignsFrom.Local().Format(time.DateTime), k.SignsUntil.Local().Format(time.DateTime),
			k.InMetadataUntil.Local().Format(time.DateTime), k.CertificateSHA256, signing)
	}
	return tw.Flush()
}

func keysRetireCmd(g *globals) *cobra.Command {
	var samlKey bool
	cmd := &cobra.Command{
		Use:   "retire KID",
		Short: "Withdraw a signing key now (its private key may be out): it leaves JWKS (--saml: the SAML metadata), what it signed stops verifying, a successor signs at once",
		Long: "Withdraws the signing key KID at once, for a key whose private key may be out (a leaked backup\n" +
			"together with keys.encryption_key, a host compromise): it signs no more and leaves JWKS now,\n" +
			"so ID tokens and JWT access tokens it signed no longer verify at this provider (userinfo,\n" +
			"introspection, id_token_hint) nor at a relying party once it fetches JWKS again. When it is the\n" +
			"key that signs its algorithm, a new key of that algorithm signs from now. A running server\n" +
			"learns it at once on PostgreSQL, within seconds on SQLite. Members stay signed in; tokens it\n" +
			"signed are refused, and refresh tokens get new ones signed by the successor. Audited.\n\n" +
			"Under keys.rsa_signer: openssl the new key is first self-tested with this host's OpenSSL, as a\n" +
			"server's withdrawal does: when OpenSSL refuses it (or cannot be opened here), nothing is\n" +
			"withdrawn and the command fails, as the API answers 409 openssl_refused.\n\n" +
			"With --saml, KID is a SAML signing key (keys list --saml): it leaves the IdP's metadata now and,\n" +
			"when it is the key that signs, a new key signs the IdP's responses, LogoutRequests and metadata\n" +
			"from now. SPs trust the certificates of the metadata they hold: each refuses the bridge's\n" +
			"responses (its sign-ins fail) until it reads the metadata again, and keeps trusting the withdrawn\n" +
			"certificate until then. Tell the SPs' operators to refresh it (or give them the new certificate).",
		Example: "  ssobridge keys list\n  ssobridge keys retire Zk3q8bVh1lN0x2Yc\n  ssobridge keys list --saml\n  ssobridge keys retire --saml 5f0c2a9e41d7b388",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return g.withAdmin(ctx, func(a *admin.Service) error {
				out := cmd.OutOrStdout()
				if samlKey {
					succ, err := a.RetireSAMLSigningKey(ctx, cliActor(), args[0])
					if err != nil {
						return retireRefused(err)
					}
					fmt.Fprintf(out, "withdrawn: SAML signing key %s (it signs no more and has left the metadata)\n", args[0])
					if succ != nil {
						fmt.Fprintf(out, "successor: %s signs from now until %s; certificate SHA-256 %s\n", succ.ID,
							succ.SignsUntil.Local().Format(time.DateTime), succ.CertificateSHA256)
						fmt.Fprintln(out, "SPs refuse what it signs until they read the metadata again: ask their operators to refresh it")
					}
					return nil
				}
				succ, err := a.RetireSigningKey(ctx, cliActor(), args[0])
				if err != nil {
					return retireRefused(err)
				}
				fmt.Fprintf(out, "withdrawn: %s (it signs no more and has left JWKS)\n", args[0])
				if succ != nil {
					fmt.Fprintf(out, "successor: %s signs %s from now until %s\n", succ.ID, succ.Algorithm, succ.SignsUntil.Local().Format(time.DateTime))
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&samlKey, "saml", false, "KID is a SAML signing key (keys list --saml)")
	return cmd
}

// retireRefused is the CLI's error for a withdrawal that failed: under keys.rsa_signer: openssl a
// successor this host's OpenSSL refuses (the API's 409 openssl_refused) is the administration's
// message, what it means and the way out, as the console says it (exit status 1, as every
// refusal); any other error as it is.
func retireRefused(err error) error {
	if !errors.Is(err, admin.ErrSuccessorRefused) {
		return err
	}
	if why := bridge.NoOpenSSLReason(err); why != nil {
		err = fmt.Errorf("%w (%w)", err, why)
	}
	return fmt.Errorf("%w\nThe key was left as it is, and still signs. To withdraw it all the same (if it may have leaked, "+
		"for example), set keys.rsa_signer: auto on the servers and here, so that Go's crypto/rsa signs with the new key "+
		"where OpenSSL refuses it, and withdraw it again", err)
}
