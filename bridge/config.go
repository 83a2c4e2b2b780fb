package bridge

import "github.com/ssobridge/ssobridge/bridge/config"

// Config is the configuration file (package bridge/config holds its schema, defaults and
// validation).
type Config = config.Config

// Defaults returns the embedded defaults.
func Defaults() Config { return config.Defaults() }

// LoadConfig reads a configuration file over the defaults (config.Load).
func LoadConfig(path string) (Config, error) { return config.Load(path) }
