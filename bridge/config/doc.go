// Package config is the bridge's configuration file: its schema and embedded defaults
// (schema.go; a relying party's in client.go), reading it with ${ENV} expansion (load.go), and
// checking it (validate.go).
//
// Checking happens once per start: Check validates every field, reports every problem at once
// (each naming its field, e.g. "tokens.code_lifetime: ..."), and returns a Checked holding what
// the runtime is built from, such as the compiled claim policy and the runtime clients (secrets
// hashed, defaults filled), so nothing is validated or compiled twice.
package config
