// Package version says which build is running: the module version, the VCS commit and the
// build date, from the build information Go embeds (debug.ReadBuildInfo), each replaceable at
// link time:
//
//	go build -ldflags "-X github.com/ssobridge/ssobridge/bridge/version.version=v1.2.3 \
//	  -X github.com/ssobridge/ssobridge/bridge/version.commit=$(git rev-parse HEAD) \
//	  -X github.com/ssobridge/ssobridge/bridge/version.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" ./cmd/ssobridge
package version
