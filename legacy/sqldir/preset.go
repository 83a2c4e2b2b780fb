package sqldir

import "slices"

// PresetNameNone is legacy.preset "none": no built-in query set, every query comes from
// Config.Queries.
const PresetNameNone = "none"

// Preset is a built-in query set for one AMS schema on one driver, chosen by legacy.preset.
// The directory knows no AMS: a connector package (legacy/imis) builds its presets and hands
// them to the directory in Config.Presets.
type Preset struct {
	// Name is the legacy.preset value that chooses it.
	Name string
	// Driver is the driver its SQL is written for; the first preset of Config.Presets for the
	// configured driver is the default when legacy.preset is not set.
	Driver string
	// Queries returns every named query (QueryNames, following the column contract in
	// queries.go) for a member key mode (one of MemberKeys, or "" when it has none), as a
	// fresh map.
	Queries func(memberKey string) map[string]string
	// MemberKeys are the legacy.member_key values the preset accepts, its default first; none:
	// the key is simply the queries' user_key column.
	MemberKeys []string
	// TextKeys are the member key modes whose keys are lower-case text compared as such
	// (not uniqueidentifiers, however they look).
	TextKeys []string
	// RefusedLogins is the default of legacy.refused_logins: the AMS's built-in accounts.
	RefusedLogins []string
	// Probes are the diagnostic counts Diagnose runs, in order, when the preset's
	// member_by_login finds no member, to name the first missing link of the login chain.
	Probes []Probe
	// EmptyPing, when set, is the problem Diagnose reports when the preset's ping returns a
	// single count of zero (the database answers but is not this AMS's).
	EmptyPing string
	// AMS names the AMS in Diagnose's explanations (default "AMS"); UTCDates and AppDates say
	// which of its date columns are read in UTC and which in its application clock (defaults:
	// the column contract's rule).
	AMS, UTCDates, AppDates string
}

// diagnosis are the preset's words for Diagnose, with the defaults of a directory without one.
func (p *Preset) diagnosis() (ams, utcDates, appDates string) {
	ams, utcDates, appDates = "AMS", "columns ending in _utc", "every other date column"
	if p == nil {
		return ams, utcDates, appDates
	}
	if p.AMS != "" {
		ams = p.AMS
	}
	if p.UTCDates != "" {
		utcDates = p.UTCDates
	}
	if p.AppDates != "" {
		appDates = p.AppDates
	}
	return ams, utcDates, appDates
}

// Probe is one diagnostic count query of a preset: @p1 (?1 in SQLite) is the lower-cased
// login; a count of zero means What.
type Probe struct {
	What  string
	Query string
}

// preset returns the configured preset, or nil for preset none.
func (c Config) presetValue() *Preset {
	name := c.preset()
	for i := range c.Presets {
		if c.Presets[i].Name == name {
			return &c.Presets[i]
		}
	}
	return nil
}

// presetNames lists the preset names the configuration accepts, none last.
func (c Config) presetNames() []string {
	var names []string
	for _, p := range c.Presets {
		names = append(names, p.Name)
	}
	return append(names, PresetNameNone)
}

// memberKeys lists the member key modes the connector's presets accept (each once).
func (c Config) memberKeys() []string {
	return c.presetUnion(func(p Preset) []string { return p.MemberKeys })
}

// defaultRefusedLogins is the presets' built-in accounts (each once).
func (c Config) defaultRefusedLogins() []string {
	return c.presetUnion(func(p Preset) []string { return p.RefusedLogins })
}

// presetUnion is the union of one list of every preset, in order, each value once.
func (c Config) presetUnion(list func(Preset) []string) []string {
	var out []string
	for _, p := range c.Presets {
		for _, v := range list(p) {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}
