package bridge

import "github.com/ssobridge/ssobridge/bridge/identity"

// sealHandoff is the purpose of sealed hand-off tickets (identity.Sealer).
const sealHandoff = identity.PurposeHandoff

// seal encrypts v (JSON) for one purpose, for use in URLs and forms.
func (s *Server) seal(purpose string, v any) (string, error) { return s.sealer.Seal(purpose, v) }

// unseal decrypts a value sealed for purpose into v.
func (s *Server) unseal(purpose, raw string, v any) error { return s.sealer.Unseal(purpose, raw, v) }
