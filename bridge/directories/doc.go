// Package directories is the registry of AMS connectors by legacy.type (Types: one line per
// connector package) and the `legacy:` section that names one (LegacyConfig). Adding an AMS is a
// package under legacy/ with a Config (Validate, Open, MemberRules) and one line in Types.
package directories
