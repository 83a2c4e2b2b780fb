package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ssobridge/ssobridge/bridge"
)

func storeRekeyCmd(g *globals) *cobra.Command {
	var oldKeyFile, oldKeyEnv string
	cmd := &cobra.Command{
		Use:   "rekey",
		Short: "Change keys.encryption_key: re-seal every sealed value from the old key to the configured one",
		Long: "Re-seals every value the store keeps sealed under the key-encryption key (the signing keys' and SAML\n" +
			"keys' private keys, the installation secrets, the members' TOTP secrets) from the old key to the one\n" +
			"keys.encryption_key now names, in one transaction on SQLite and PostgreSQL. It refuses, changing nothing,\n" +
			"when the old key does not open every one of them. Stop every server on the store first (on SQLite it\n" +
			"refuses while one runs): one still running would seal what it writes next under the old key. Then start\n" +
			"the servers with the new key only. The old key comes from a file (base64 of 32 bytes, as the data\n" +
			"directory's generated key) or an environment variable, never the command line.",
		Example: "  SSOBRIDGE_KEY_ENCRYPTION_KEY=<new> ssobridge store rekey --config /etc/ssobridge/config.yaml --old-key-file /root/old.key\n" +
			"  ssobridge store rekey --config config.yaml --old-key-env OLD_SSOBRIDGE_KEY_ENCRYPTION_KEY",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var raw string
			switch {
			case oldKeyFile != "" && oldKeyEnv != "":
				return errors.New("give the old key once: --old-key-file or --old-key-env")
			case oldKeyFile != "":
				b, err := os.ReadFile(oldKeyFile)
				if err != nil {
					return fmt.Errorf("old key: %w", err)
				}
				raw = string(b)
			case oldKeyEnv != "":
				raw = os.Getenv(oldKeyEnv)
				if raw == "" {
					return fmt.Errorf("old key: %s is not set", oldKeyEnv)
				}
			default:
				return errors.New("the old key is required: --old-key-file or --old-key-env")
			}
			oldKEK, err := bridge.ParseKeyEncryptionKey([]byte(raw))
			if err != nil {
				return fmt.Errorf("old key: %w", err)
			}
			chk, err := g.load()
			if err != nil {
				return err
			}
			n, err := bridge.RekeyStore(cmd.Context(), chk.Config, oldKEK)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "re-sealed %d value(s) under the new keys.encryption_key; start the servers with it (the old key opens nothing now)\n", n)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&oldKeyFile, "old-key-file", "", "file holding the old keys.encryption_key (base64 of 32 bytes)")
	f.StringVar(&oldKeyEnv, "old-key-env", "", "environment variable holding the old keys.encryption_key")
	return cmd
}
