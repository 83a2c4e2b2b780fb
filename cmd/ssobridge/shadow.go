package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
)

func shadowCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "shadow", Short: "Shadow-user provisioning and logout delivery: the outbox"}
	cmd.AddCommand(shadowStatusCmd(g), shadowRetryCmd(g))
	return cmd
}

func shadowStatusCmd(g *globals) *cobra.Command {
	var limit int
	c := &cobra.Command{
		Use:   "status",
		Short: "Count outbox events by state and list the pending and dead ones",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return g.withStore(ctx, func(cfg bridge.Config, st store.Store) error {
				counts, err := st.OutboxCounts(ctx)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "pending %d, delivered %d, dead %d, superseded %d, skipped %d\n", counts[store.OutboxPending], counts[store.OutboxDelivered],
					counts[store.OutboxDead], counts[store.OutboxSuperseded], counts[store.OutboxSkipped])
				wm, err := st.Watermark(ctx, provisioning.WatermarkName)
				if err != nil {
					return err
				}
				if !wm.IsZero() {
					fmt.Fprintf(w, "AMS changes seen up to %s\n", wm.Local().Format(time.RFC3339))
				}
				for _, state := range []string{store.OutboxPending, store.OutboxDead} {
					evs, err := st.OutboxEvents(ctx, store.OutboxFilter{State: state, Limit: limit})
					if err != nil {
						return err
					}
					if len(evs) == 0 {
						continue
					}
					fmt.Fprintf(w, "\n%s:\n", state)
					tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tTYPE\tCLIENT\tSUBJECT\tATTEMPTS\tCREATED\tNEXT ATTEMPT\tLAST ERROR")
					for _, e := range evs {
						next := "-"
						if state == store.OutboxPending {
							next = e.NextAttempt.Local().Format(time.DateTime)
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", e.ID, e.Type, e.ClientID, e.Subject, e.Attempts,
							e.CreatedAt.Local().Format(time.DateTime), next, e.LastError)
					}
					tw.Flush()
				}
				return nil
			})
		},
	}
	c.Flags().IntVar(&limit, "limit", 100, "list at most this many events per state")
	return c
}

func shadowRetryCmd(g *globals) *cobra.Command {
	var (
		id  string
		all bool
	)
	c := &cobra.Command{
		Use:   "retry (--id ID | --all)",
		Short: "Re-queue dead events (delivered by the running server at its next round)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (id == "") == !all {
				return errors.New("give --id ID or --all")
			}
			ctx := cmd.Context()
			return g.withStore(ctx, func(cfg bridge.Config, st store.Store) error {
				n, err := st.RetryEvents(ctx, id, time.Now())
				if err != nil {
					return err
				}
				what := "all dead events"
				if id != "" {
					what = "event " + id
				}
				auditCLI(ctx, st, "admin.outbox_retry", "", fmt.Sprintf("%s (%d)", what, n))
				fmt.Fprintf(cmd.OutOrStdout(), "re-queued %d event(s)\n", n)
				return nil
			})
		},
	}
	c.Flags().StringVar(&id, "id", "", "the dead event to re-queue")
	c.Flags().BoolVar(&all, "all", false, "re-queue every dead event")
	return c
}
