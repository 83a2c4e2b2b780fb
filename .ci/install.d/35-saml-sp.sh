# shellcheck shell=bash
# Sourced by .ci/run (as root, on a fresh Debian clone): installs the real SAML service provider
# that e2e/samlsp drives through the bridge's SAML IdP and login page, then makes that suite
# mandatory.
#
#   - Apache httpd with mod_auth_mellon 0.18.x from Debian (and the Lasso library it pulls in).
#     Only apache2-bin (the server binary and its modules, mod_cgid among them) and the module:
#     the test writes its own config and runs httpd in the foreground, so the apache2 package's
#     service, config tree and postinst start are not wanted.
#   - libfaketime (Debian), which shifts httpd's clock for the clock-skew test.
#
# Exports SSOBRIDGE_APACHE2, SSOBRIDGE_APACHE_MODULES and SSOBRIDGE_REQUIRE_SAML_SP=1 (missing
# software then fails the suite instead of skipping it).

MOD_AUTH_MELLON_VERSION='0.18.*'
LIBFAKETIME_VERSION='0.9.10-*'

saml_sp_start=$(date +%s)
if ! dpkg -s libapache2-mod-auth-mellon libfaketime >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  # .ci/run may have refreshed the lists already; a second update is cheap.
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends apache2-bin "libapache2-mod-auth-mellon=${MOD_AUTH_MELLON_VERSION}" \
    "libfaketime=${LIBFAKETIME_VERSION}" >/dev/null
fi
export SSOBRIDGE_APACHE2=/usr/sbin/apache2
export SSOBRIDGE_APACHE_MODULES=/usr/lib/apache2/modules
export SSOBRIDGE_REQUIRE_SAML_SP=1
dpkg-query -W -f='${Package} ${Version}\n' libapache2-mod-auth-mellon libfaketime
echo "saml sp installed in $(( $(date +%s) - saml_sp_start ))s"
unset saml_sp_start
