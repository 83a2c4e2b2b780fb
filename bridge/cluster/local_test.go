package cluster_test

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/cluster"
	"github.com/ssobridge/ssobridge/bridge/cluster/clustertest"
)

func TestLocalConformance(t *testing.T) {
	clustertest.Run(t, func(t *testing.T, o clustertest.Options) clustertest.Join {
		hub := cluster.NewLocal(cluster.LocalOptions{Retry: 20 * time.Millisecond, Fallback: o.Fallback})
		t.Cleanup(func() { _ = hub.Close() })
		return func(*testing.T) cluster.Node { return hub.Replica() }
	})
}
