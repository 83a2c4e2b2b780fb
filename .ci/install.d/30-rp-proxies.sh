# shellcheck shell=bash
# Sourced by .ci/run (as root, on a fresh Debian clone): installs the reverse-proxy relying
# parties that e2e/proxies drives through the real login page, then makes that suite mandatory.
#
#   - Apache httpd with mod_auth_openidc 2.4.12.x from Debian. Only apache2-bin (the server
#     binary and its modules) and the module: the test writes its own config and runs httpd in the
#     foreground, so the apache2 package's service, config tree and postinst start are not wanted.
#   - oauth2-proxy v7.15.6, built from the Go module proxy into a cache directory outside the
#     repository (nothing lands in the work tree).
#
# Exports SSOBRIDGE_OAUTH2_PROXY, SSOBRIDGE_APACHE2, SSOBRIDGE_APACHE_MODULES and
# SSOBRIDGE_REQUIRE_RP=1 (missing software then fails the suite instead of skipping it).

OAUTH2_PROXY_VERSION=v7.15.6
MOD_AUTH_OPENIDC_VERSION='2.4.12.*'

rp_start=$(date +%s)
if ! dpkg -s libapache2-mod-auth-openidc >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  # .ci/run may have refreshed the lists already (for chromium); a second update is cheap.
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends apache2-bin "libapache2-mod-auth-openidc=${MOD_AUTH_OPENIDC_VERSION}" >/dev/null
fi
rp_bin="${XDG_CACHE_HOME:-$HOME/.cache}/ssobridge-rp/oauth2-proxy-${OAUTH2_PROXY_VERSION}"
if [ ! -x "$rp_bin/oauth2-proxy" ]; then
  # pkg@version builds the release with its own go.mod (this repository's go.mod plays no
  # part); CGO off for a static build; the version string is what the release's Makefile sets.
  GOBIN="$rp_bin" CGO_ENABLED=0 go install \
    -ldflags "-X github.com/oauth2-proxy/oauth2-proxy/v7/pkg/version.VERSION=${OAUTH2_PROXY_VERSION}" \
    "github.com/oauth2-proxy/oauth2-proxy/v7@${OAUTH2_PROXY_VERSION}"
fi
export SSOBRIDGE_OAUTH2_PROXY="$rp_bin/oauth2-proxy"
export SSOBRIDGE_APACHE2=/usr/sbin/apache2
export SSOBRIDGE_APACHE_MODULES=/usr/lib/apache2/modules
export SSOBRIDGE_REQUIRE_RP=1
"$SSOBRIDGE_OAUTH2_PROXY" --version
"$SSOBRIDGE_APACHE2" -v | head -1
dpkg-query -W -f='mod_auth_openidc ${Version}\n' libapache2-mod-auth-openidc
echo "rp proxies installed in $(( $(date +%s) - rp_start ))s"
unset rp_start rp_bin
