package bridge

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ssobridge/ssobridge/bridge/cluster"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/metrics"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/backends"
	"github.com/ssobridge/ssobridge/legacy"
)

// App is a bridge opened from its configuration: store, directory and server.
type App struct {
	Config    Config
	Store     store.Backend
	Directory legacy.Directory
	Server    *Server
	// Demo is true when members come from the embedded demo database.
	Demo bool
	// Connector is the AMS connector Directory comes from (its optional capabilities).
	Connector legacy.Connector
	// Metrics is the process's metrics registry (the connector's queries are observed).
	Metrics *metrics.Metrics
	// Cluster is this process's node of the installation's replicas (cluster.ForStore): on a
	// PostgreSQL store, through its database; otherwise this process alone.
	Cluster cluster.Node
	// standing is the policy's membership rule, for the connector's diagnosis.
	standing func(m *legacy.Member, now time.Time) legacy.Membership
	closers  []func() error
}

// OpenStore opens the bridge's own store that store.type names (sqlite in the data dir by
// default), after creating the data dir (mode 0700).
func OpenStore(ctx context.Context, cfg Config) (store.Backend, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	// The directory holds the token store and possibly the key-encryption key: private to the
	// service user even when it existed before with looser permissions.
	if fi, err := os.Stat(cfg.DataDir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data_dir: make it private (0700): %w", err)
		}
	}
	return backends.Open(ctx, cfg.StoreConfig())
}

// Open opens everything the server needs from a checked configuration (Config.Check).
func Open(ctx context.Context, chk *config.Checked, log *slog.Logger) (*App, error) {
	a := &App{Config: chk.Config, Metrics: NewMetrics()}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	unlock, err := holdServeLock(chk.Config.StoreConfig())
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, unlock)
	encKey, err := a.open(ctx, log)
	if err != nil {
		return nil, err
	}
	a.standing = standingRule(chk)
	if err := a.openDirectory(ctx, log); err != nil {
		return nil, err
	}
	chk.Config = a.Config // settleMemberKey may have filled in legacy.member_key
	a.Server, err = newServer(ctx, chk, Deps{Store: a.Store, Directory: a.Directory, Connector: a.Connector, SigningKeyEncryption: encKey,
		Metrics: a.Metrics, Cluster: a.Cluster}, log)
	if err != nil {
		return nil, err
	}
	ok = true
	return a, nil
}

// open opens what the server and the administration (OpenAdmin) run on: the store, the
// key-encryption key and legacy.member_key settled against the store. It returns the
// key-encryption key; a.Config is the settled configuration (for openDirectory).
func (a *App) open(ctx context.Context, log *slog.Logger) ([]byte, error) {
	cfg := a.Config
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.Store = st
	a.closers = append(a.closers, st.Close)
	sc := cfg.StoreConfig()
	node, err := cluster.ForStore(ctx, sc, log)
	if err != nil {
		return nil, err
	}
	a.Cluster = node
	a.closers = append(a.closers, node.Close)
	encKey, err := signingKeyEncryption(cfg, log)
	if err != nil {
		return nil, err
	}
	lc := cfg.Legacy.Clone()
	if mk, ok := lc.Config.(legacy.MemberKeyChooser); ok {
		// Subjects derive from the member key: the mode recorded at first start is kept.
		mode, err := settleMemberKey(ctx, st, encKey, mk.MemberKeyModes(), log)
		if err != nil {
			return nil, err
		}
		mk.SetMemberKey(mode)
		cfg.Legacy = lc
		a.Config = cfg
	}
	return encKey, nil
}

// standingRule is the membership standing as the tokens carry it (the policy's grace period and
// standing_rule), for the connector's diagnosis (the console's and the CLI's legacy check).
func standingRule(chk *config.Checked) func(m *legacy.Member, now time.Time) legacy.Membership {
	if chk.Policy == nil {
		return nil
	}
	return func(m *legacy.Member, now time.Time) legacy.Membership { return chk.Policy.Membership(m, "", "", now) }
}

// openDirectory opens the AMS connector of the settled configuration.
func (a *App) openDirectory(ctx context.Context, log *slog.Logger) error {
	o := legacy.OpenOptions{Logger: log, Standing: a.standing}
	if a.Metrics != nil {
		o.Queries = a.Metrics
	}
	conn, err := OpenConnector(ctx, a.Config, o)
	if err != nil {
		return err
	}
	a.Connector, a.Directory, a.Demo = conn, conn.Directory(), a.Config.Legacy.IsDemo()
	a.closers = append(a.closers, conn.Close)
	return nil
}

// Close releases everything, newest first.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// ParseKeyEncryptionKey is a key-encryption key as a key file holds it (the data directory's
// generated one, the old key given to store rekey), by keys.encryption_key's rule
// (config.DecodeEncryptionKey): base64 of 32 bytes, with any spaces or line ends around it.
func ParseKeyEncryptionKey(raw []byte) ([]byte, error) {
	return config.DecodeEncryptionKey(string(raw))
}

// keyFileName holds the generated signing-key encryption key on embedded defaults.
const keyFileName = "signing-key-encryption.key"

// signingKeyEncryption returns the 32-byte key that encrypts signing keys at rest: from
// keys.encryption_key, or generated once into the data dir with a warning.
func signingKeyEncryption(cfg Config, log *slog.Logger) ([]byte, error) {
	if cfg.Keys.EncryptionKey != "" {
		key, err := config.DecodeEncryptionKey(cfg.Keys.EncryptionKey)
		if err != nil {
			return nil, fmt.Errorf("keys.encryption_key: %w", err)
		}
		return key, nil
	}
	path := filepath.Join(cfg.DataDir, keyFileName)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := identity.RandomBytes(32)
		if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("keys.encryption_key: generate %s: %w", path, err)
		}
		log.Warn("keys.encryption_key is not set: generated one into the data dir; set it in the config (from a secret store) for production",
			"file", path)
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keys.encryption_key: read %s: %w", path, err)
	}
	key, err := ParseKeyEncryptionKey(raw)
	if err != nil {
		return nil, fmt.Errorf("keys.encryption_key: %s: %w", path, err)
	}
	log.Warn("using the signing-key encryption key generated into the data dir; set keys.encryption_key for production", "file", path)
	return key, nil
}
