// Package templates holds the bridge's HTML pages, embedded in the binary. An association can
// brand them through the organisation settings (name, logo, primary colour).
package templates

import "embed"

// FS holds every page template.
//
//go:embed *.html
var FS embed.FS
