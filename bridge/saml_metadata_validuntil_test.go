package bridge_test

import (
	"encoding/xml"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
)

// TestSAMLMetadataOutlivesTheKeyOverlap (review s19 X19-8): the IdP's metadata says
// validUntil = now + 48 h (and cacheDuration 48 h), while its signing keys are published
// saml.key_overlap (30 days by default) ahead, on the premise that SPs read the metadata "now
// and then" (README: "most load it at start-up or refresh it daily"). An SP that enforces
// validUntil on the copy it holds (OpenSAML/Shibboleth: "the validity check is always
// performed": expired metadata is discarded) and loads it from a file, as SAML
// administrators commonly do with an IdP's metadata, stops trusting the bridge two days after
// the download: its members can no longer sign in there. The metadata must stay valid at least
// as long as the rotation scheme lets an SP go without reading it.
func TestSAMLMetadataOutlivesTheKeyOverlap(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.issuer + "/saml/metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var md struct {
		ValidUntil time.Time `xml:"validUntil,attr"`
	}
	if err := xml.Unmarshal(body, &md); err != nil || resp.StatusCode != 200 {
		t.Fatalf("metadata: %d %v %.200s", resp.StatusCode, err, body)
	}
	if left := time.Until(md.ValidUntil); left < config.DefaultSAMLKeyOverlap {
		t.Fatalf("the metadata expires in %v, before the key overlap (%v) an SP may wait between two reads",
			left.Round(time.Hour), config.DefaultSAMLKeyOverlap)
	}
}
