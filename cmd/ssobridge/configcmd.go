package main

import (
	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge/config"
)

func configCmd() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Configuration helpers"}
	c.AddCommand(&cobra.Command{
		Use:   "example",
		Short: "Print a complete, commented configuration generated from the schema (every field, its default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(config.Example())
			return err
		},
	})
	return c
}
