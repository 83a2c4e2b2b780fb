package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/cluster"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

func samlCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "saml", Short: "Register and manage SAML service providers (those entered by hand live in the config file)"}
	cmd.AddCommand(samlRegisterCmd(g), samlRefreshCmd(g), samlSetCmd(g), samlListCmd(g), samlRemoveCmd(g))
	return cmd
}

// withSAML opens the store and the SP registry (the config file's SPs and the stored ones),
// whose changes are announced to the running replicas (cluster.TopicSAML) so that they serve
// them at once.
func (g *globals) withSAML(ctx context.Context, f func(cfg bridge.Config, st store.Store, reg *saml.Registry) error) error {
	return g.withCheckedStore(ctx, func(chk *config.Checked, st store.Store) error {
		cfg := chk.Config
		reg, err := saml.NewRegistry(cfg.SAML, st, nil)
		if err != nil {
			return err
		}
		reg.ConfigClientIDs = bridge.ConfigClientIDs(chk) // one id names one app
		reg.EmailVerified = cfg.Policy.EmailVerified      // name_id_format email only then
		sc := cfg.StoreConfig()
		node, err := cluster.ForStore(ctx, sc, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
		if err != nil {
			return err
		}
		defer node.Close()
		reg.Changed = func(ctx context.Context) error { return node.Notify(ctx, cluster.TopicSAML) }
		return f(cfg, st, reg)
	})
}

// notNotified reports a change stored but not announced (saml.ErrNotNotified) as a warning;
// other errors are returned.
func notNotified(w io.Writer, err error) error {
	if errors.Is(err, saml.ErrNotNotified) {
		fmt.Fprintf(w, "warning: %v\n", err)
		return nil
	}
	return err
}

// maxMetadata bounds a metadata document read at registration.
const maxMetadata = 1 << 20

// metadataTimeout bounds the fetch of --metadata-url.
const metadataTimeout = 30 * time.Second

// readMetadata reads an SP's metadata from a file or, once, from a URL (https, or http on a
// loopback address), with client (nil: metadataHTTPClient). A document larger than maxMetadata
// is refused, not cut.
func readMetadata(ctx context.Context, client *http.Client, file, rawURL string) ([]byte, error) {
	switch {
	case file != "" && rawURL != "":
		return nil, errors.New("give --metadata-file or --metadata-url, not both")
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readAtMost(f, "--metadata-file")
	case rawURL != "":
		u, err := url.Parse(rawURL)
		if err != nil || !metadataURLAllowed(u) {
			return nil, fmt.Errorf("--metadata-url %q %s", rawURL, metadataURLRule)
		}
		if client == nil {
			client = metadataHTTPClient()
		}
		ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetch metadata: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("fetch metadata: %s answered %s", u.Host, resp.Status)
		}
		return readAtMost(resp.Body, "the metadata at --metadata-url")
	}
	return nil, errors.New("give the SP's metadata with --metadata-file or --metadata-url")
}

// metadataURLRule is what metadataURLAllowed asks, as the refusals say it.
const metadataURLRule = "must be https (http only on a loopback address: an SP on this machine)"

// metadataURLAllowed: https, or http on a loopback address (an SP on this machine: nothing on
// the network sees or changes the document on the way). saml register and saml refresh both
// read --metadata-url by it (readMetadata), and every redirect is held to it.
func metadataURLAllowed(u *url.URL) bool {
	return u.Scheme == "https" || (u.Scheme == "http" && config.LoopbackHost(u.Hostname()))
}

// metadataHTTPClient fetches --metadata-url: the system's roots, and no redirect to a URL that
// --metadata-url itself could not be (http elsewhere than on loopback).
func metadataHTTPClient() *http.Client {
	return &http.Client{Timeout: metadataTimeout, CheckRedirect: checkMetadataRedirect}
}

// checkMetadataRedirect refuses a redirect to a URL --metadata-url could not be, and more than
// five.
func checkMetadataRedirect(req *http.Request, via []*http.Request) error {
	if !metadataURLAllowed(req.URL) {
		return fmt.Errorf("redirected to %q, which %s", req.URL.Redacted(), metadataURLRule)
	}
	if len(via) >= 5 {
		return errors.New("more than 5 redirects")
	}
	return nil
}

// readAtMost reads r whole, refusing more than maxMetadata bytes (what names r in the refusal).
func readAtMost(r io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxMetadata+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxMetadata {
		return nil, fmt.Errorf("%s is larger than %d bytes: no SP's metadata is", what, maxMetadata)
	}
	return b, nil
}

func samlRegisterCmd(g *globals) *cobra.Command {
	var (
		sp        config.SAMLServiceProvider
		file, raw string
	)
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Register a SAML SP from its metadata (read once, now: never fetched per request)",
		Example: `  ssobridge saml register --id lms --name "Learning Portal" --metadata-url https://lms.example.org/saml/metadata
  ssobridge saml register --id jobs --name "Job Board" --metadata-file jobs.xml --name-id-format email --encrypt-assertions`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			md, err := readMetadata(ctx, g.metadataClient, file, raw)
			if err != nil {
				return err
			}
			return g.withSAML(ctx, func(_ bridge.Config, st store.Store, reg *saml.Registry) error {
				got, err := reg.Register(ctx, sp, md, time.Now())
				if err = notNotified(cmd.ErrOrStderr(), err); err != nil {
					return fmt.Errorf("register: %w", err)
				}
				auditCLI(ctx, st, "admin.saml_sp_add", got.Settings.ID, got.EntityID)
				fmt.Fprintf(cmd.OutOrStdout(), "registered %s (%s)\nits claim policy and access rule are policies.%s in the config file\n",
					got.Settings.ID, got.EntityID, got.Settings.ID)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&sp.ID, "id", "", "the bridge's name for the SP (policies.<id>, /saml/start/<id>; required)")
	f.StringVar(&sp.Name, "name", "", "name shown to members")
	f.StringVar(&file, "metadata-file", "", "the SP's SAML metadata (XML file)")
	f.StringVar(&raw, "metadata-url", "", "where to fetch the SP's SAML metadata from, once (https; http only on a loopback address)")
	f.StringVar(&sp.NameIDFormat, "name-id-format", "persistent", "persistent (the member's subject) or email")
	f.BoolVar(&sp.EncryptAssertions, "encrypt-assertions", false, "encrypt assertions to the SP's encryption certificate")
	f.BoolVar(&sp.AuthnRequestsSigned, "authn-requests-signed", false, "refuse the SP's unsigned AuthnRequests")
	f.BoolVar(&sp.LogoutResponsesSigned, "logout-responses-signed", false, "count the SP's back-channel (SOAP) LogoutResponses only when signed")
	f.BoolVar(&sp.AllowInsecureSOAPSLO, "allow-insecure-soap-slo", false, "let the SP's SOAP single logout service be plain http or an internal address (and, for an SP registered before the https rule, its browser one plain http)")
	f.StringSliceVar(&sp.AllowedRoles, "allowed-role", nil, "a role the SP may see (repeatable; none: the claim policy decides)")
	f.StringSliceVar(&sp.Scopes, "scope", nil, "a claim scope released as attributes (repeatable; default openid, profile, email, membership, roles)")
	return cmd
}

func samlRefreshCmd(g *globals) *cobra.Command {
	var file, raw string
	cmd := &cobra.Command{
		Use:   "refresh <id or entity id>",
		Short: "Give a registered SAML SP its current metadata, in place (its id, settings, policy and sessions stay)",
		Long: `Replaces a registered SP's stored metadata with its current metadata (read once, now), as after
a certificate rollover or a moved endpoint: checked as a registration checks it (https endpoints,
validUntil not passed, certificates for the SP's settings), of the same entity id. The SP keeps
its id, its settings, its policy and its places in members' sessions, so their single logout
still reaches it. Of two refreshes at once, one is stored and the other is refused.`,
		Example: `  ssobridge saml refresh lms --metadata-url https://lms.example.org/saml/metadata
  ssobridge saml refresh https://jobs.example.org/sp --metadata-file jobs.xml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			which := strings.TrimSpace(args[0])
			md, err := readMetadata(ctx, g.metadataClient, file, raw)
			if err != nil {
				return err
			}
			return g.withSAML(ctx, func(_ bridge.Config, st store.Store, reg *saml.Registry) error {
				got, err := reg.ReplaceMetadata(ctx, which, md)
				if err = notNotified(cmd.ErrOrStderr(), err); err != nil {
					return fmt.Errorf("refresh: %w", err)
				}
				sp := got.SP
				out := cmd.OutOrStdout()
				if got.Unchanged {
					fmt.Fprintf(out, "%s (%s): the metadata given is the stored metadata; nothing changed\n", sp.Settings.ID, sp.EntityID)
					return nil
				}
				lines, changed := got.Summary.Lines(got.WasSummary)
				what := refreshOutcome(got, changed)
				auditCLI(ctx, st, "admin.saml_sp_refresh", sp.Settings.ID,
					fmt.Sprintf("%s: metadata replaced; %s; %s", sp.EntityID, what, strings.Join(lines, "; ")))
				fmt.Fprintf(out, "refreshed %s (%s): %s\n", sp.Settings.ID, sp.EntityID, what)
				for _, l := range lines {
					fmt.Fprintf(out, "  %s\n", l)
				}
				if note := saml.NameIDNote(sp, got.Summary); note != "" {
					fmt.Fprintf(out, "note: %s\n", note)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&file, "metadata-file", "", "the SP's current SAML metadata (XML file)")
	f.StringVar(&raw, "metadata-url", "", "where to fetch the SP's current SAML metadata from, once (https; http only on a loopback address)")
	return cmd
}

func samlSetCmd(g *globals) *cobra.Command {
	var (
		format string
		allow  bool
	)
	cmd := &cobra.Command{
		Use:   "set <id or entity id>",
		Short: "Change a registered SAML SP's settings in place (its id, metadata, policy and sessions stay)",
		Long: `Changes a registered SP's name_id_format or allow_insecure_soap_slo without removing it: the SP
keeps its id, metadata, policy, its places in members' sessions and its queued logouts (removing
it deletes them). The new value is checked as a registration checks it (email needs
email_verified: true). Of two changes at once, one is stored and the other is refused.

A new name_id_format applies from each member's next sign-in at the SP. The NameIDs the SP was
sent stay the bridge's record of those sessions: their single logout names the member with the
NameID the SP was given. The SP may know the member under the new NameID as another account.`,
		Example: `  ssobridge saml set jobs --name-id-format persistent
  ssobridge saml set oldapp --allow-insecure-soap-slo`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			which := strings.TrimSpace(args[0])
			var change saml.SettingsChange
			if cmd.Flags().Changed("name-id-format") {
				change.NameIDFormat = &format
			}
			if cmd.Flags().Changed("allow-insecure-soap-slo") {
				change.AllowInsecureSOAPSLO = &allow
			}
			if change.NameIDFormat == nil && change.AllowInsecureSOAPSLO == nil {
				return errors.New("give --name-id-format or --allow-insecure-soap-slo")
			}
			return g.withSAML(ctx, func(_ bridge.Config, st store.Store, reg *saml.Registry) error {
				got, err := reg.ChangeSettings(ctx, which, change)
				if err = notNotified(cmd.ErrOrStderr(), err); err != nil {
					return fmt.Errorf("set: %w", err)
				}
				out := cmd.OutOrStdout()
				if got.Unchanged {
					fmt.Fprintf(out, "%s (%s): the values given are the stored ones; nothing changed\n", got.ID, got.EntityID)
					return nil
				}
				auditCLI(ctx, st, "admin.saml_sp_settings", got.ID, fmt.Sprintf("%s: %s", got.EntityID, strings.Join(got.Changes, "; ")))
				fmt.Fprintf(out, "changed %s (%s): %s\n", got.ID, got.EntityID, strings.Join(got.Changes, "; "))
				for _, c := range got.Changes {
					if strings.HasPrefix(c, "name_id_format:") {
						fmt.Fprintf(out, "note: %s\n", saml.NameIDFormatNote)
					}
				}
				if got.Unusable != nil {
					fmt.Fprintf(out, "note: it is still refused for sign-ins: %v\n", got.Unusable)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "name-id-format", "", "persistent (the member's subject) or email (needs email_verified: true)")
	f.BoolVar(&allow, "allow-insecure-soap-slo", false, "let the SP's SOAP single logout service be plain http or an internal address (and, for an SP registered before the https rule, its browser one plain http); =false turns it off")
	return cmd
}

// refreshOutcome says in a few words what a refresh changed (changed: the aspects of
// Summary.Lines that differ).
func refreshOutcome(got *saml.Replacement, changed []string) string {
	var what string
	switch {
	case got.WasSummary == nil:
		what = "its stored metadata did not read"
	case len(changed) == 0:
		what = "nothing the bridge uses changed (the document differs elsewhere)"
	case len(changed) == 1 && changed[0] == "validUntil":
		what = "only its validUntil changed"
	default:
		what = "changed: " + strings.Join(changed, ", ")
	}
	if got.Was == nil {
		what += "; its stored registration did not build, and it is served again"
	}
	return what
}

func samlListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the SAML SPs (config file and registered)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withSAML(cmd.Context(), func(_ bridge.Config, _ store.Store, reg *saml.Registry) error {
				sps, err := reg.All(cmd.Context())
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tNAME\tENTITY ID\tNAMEID\tENCRYPTED\tINSECURE SOAP SLO\tFROM")
				for _, sp := range sps {
					from := "registered"
					if sp.FromConfig {
						from = "config"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%v\t%v\t%s\n", sp.Settings.ID, sp.Name(), sp.EntityID, nameIDFormat(sp.Settings),
						sp.Settings.EncryptAssertions, sp.Settings.AllowInsecureSOAPSLO, from)
				}
				// The stored SPs whose records no longer build (not served; remove them and
				// register them again), with why, after the table.
				unusable, err := reg.Unusable(cmd.Context())
				if err != nil {
					return err
				}
				for _, u := range unusable {
					// Its settings as stored, when they read: allow_insecure_soap_slo decides
					// whether its members' sign-outs reach its plain-http endpoints.
					name, format, encrypted, insecure := "-", "-", "-", "-"
					if s, ok := u.Settings(); ok {
						name, format = s.Name, nameIDFormat(s)
						encrypted, insecure = fmt.Sprint(s.EncryptAssertions), fmt.Sprint(s.AllowInsecureSOAPSLO)
						if name == "" {
							name = u.ID
						}
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\tregistered, UNUSABLE\n", u.ID, name, u.EntityID, format, encrypted, insecure)
				}
				if err := w.Flush(); err != nil {
					return err
				}
				for _, u := range unusable {
					// Whether it still gets logouts decides what its members are left with.
					gets := "still gets its members' single logouts (back channel, browser, its own LogoutRequests)"
					if !u.GetsLogouts() {
						gets = "gets no single logouts either: its queued ones fail and its LogoutRequests are refused"
					}
					fmt.Fprintf(cmd.OutOrStdout(), "unusable %s (%s): %v; refused for sign-ins, %s; give it its current metadata: ssobridge saml refresh %s --metadata-url <url> (or --metadata-file), or remove it\n",
						u.ID, u.EntityID, u.Err, gets, u.ID)
				}
				// Served SPs whose metadata's validUntil has passed: still served (the bridge
				// does not fetch metadata again), named so that the operator registers it anew.
				now := time.Now()
				for _, sp := range sps {
					if until := saml.ValidUntil(sp.Metadata); !until.IsZero() && !now.Before(until) {
						fmt.Fprintf(cmd.OutOrStdout(), "expired %s (%s): metadata expired at %s (its validUntil); still served: give it the SP's current metadata: ssobridge saml refresh %s --metadata-url <url> (or --metadata-file)\n",
							sp.Settings.ID, sp.EntityID, until.UTC().Format(time.RFC3339), sp.Settings.ID)
					}
				}
				return nil
			})
		},
	}
}

// nameIDFormat is the NameID format an SP's settings give it ("" is persistent).
func nameIDFormat(s config.SAMLServiceProvider) string {
	if s.NameIDFormat == "" {
		return config.SAMLNameIDPersistent
	}
	return s.NameIDFormat
}

func samlRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove <id or entity id>",
		Short: "Remove a registered SAML SP",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return g.withSAML(ctx, func(cfg bridge.Config, st store.Store, reg *saml.Registry) error {
				if err := policyNames(ctx, cfg, reg, strings.TrimSpace(args[0])); err != nil {
					return err
				}
				removed, err := reg.Remove(ctx, strings.TrimSpace(args[0]))
				if err := notNotified(cmd.ErrOrStderr(), err); err != nil {
					return err
				}
				// What went with it, as the store counted it in the deletion.
				what := fmt.Sprintf("%d session participations, %d undelivered events", removed.Participations, removed.Events)
				auditCLI(ctx, st, "admin.saml_sp_remove", args[0], "removed; deleted: "+what)
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s; deleted with it: %s\n", args[0], what)
				return nil
			})
		},
	}
}

// policyNames refuses to remove an SP that a policies[<id>] of the configuration names: the
// next start-up would refuse the configuration (policies[<id>] naming no app, checkPolicyIDs),
// as `clients remove` refuses a client a setting names. Remove the policy from the
// configuration file first (the running server keeps the one it read; nothing else changes).
func policyNames(ctx context.Context, cfg bridge.Config, reg *saml.Registry, idOrEntity string) error {
	sp, err := reg.ByID(ctx, idOrEntity)
	if errors.Is(err, sso.ErrNotFound) {
		sp, err = reg.ByEntityID(ctx, idOrEntity)
	}
	var id string
	var unusable *saml.UnusableError
	switch {
	case errors.As(err, &unusable): // stored, its metadata no longer builds: Remove removes it
		id = unusable.SP.ID
	case err != nil:
		return nil // Remove says what is wrong
	case sp.FromConfig:
		return nil // Remove refuses it
	default:
		id = sp.Settings.ID
	}
	if _, ok := cfg.Policy.Policies[id]; ok && id != "" {
		return fmt.Errorf("policies[%s] in the configuration file names SAML service provider %q: remove that policy first, or the next start-up refuses the configuration (a policy naming no app)", id, id)
	}
	return nil
}
