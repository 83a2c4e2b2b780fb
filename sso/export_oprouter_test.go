package sso

import "net/http"

// OPHandler is op's Provider as an http.Handler (what op.NewProvider made it serve).
func OPHandler(p *Provider) http.Handler { return p.op }
