// Package static holds the bridge's stylesheet and scripts, embedded in the binary. No page
// loads anything from another origin.
package static

import "embed"

// FS holds the static assets.
//
//go:embed *.css *.js
var FS embed.FS
