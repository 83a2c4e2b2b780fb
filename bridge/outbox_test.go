package bridge

import (
	"testing"

	"github.com/ssobridge/ssobridge/bridge/outbox/backchannel"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/saml"
)

// TestOutboxRegistry: back-channel logout is a channel of the outbox, and no channel is named
// like a provisioning target kind (the queue asks the channels first: such a channel would take
// the kind's events from the clients' targets).
func TestOutboxRegistry(t *testing.T) {
	ch := channels(&backchannel.Deliverer{}, &saml.BackChannelSender{})
	if ch[backchannel.Channel] == nil || ch[saml.SLOChannel] == nil {
		t.Fatalf("no %s or %s channel", backchannel.Channel, saml.SLOChannel)
	}
	for kind := range provisioning.Kinds() {
		if _, ok := ch[kind]; ok {
			t.Errorf("channel %q is also a provisioning target kind", kind)
		}
	}
}
