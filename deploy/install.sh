#!/usr/bin/env bash
# Installs scim-gateway as a service on a Debian or Ubuntu host, as root. Safe to run again: it
# upgrades the package and never touches a settings file, map or credential that exists.
#
#   ./deploy/install.sh            # from a checkout (or an unpacked release) of scim-gateway
#
# What it does:
#   - installs python3-venv if missing, and the package into a virtualenv in $PREFIX;
#   - creates the system user and group $SERVICE_USER (no login, no home beyond its state folder);
#   - $ETC (root:$SERVICE_USER 0750): settings.yaml and openldap.yaml skeletons, and an empty
#     ldap.password (0640) to fill in;
#   - $STATE (the service user's, 0750): where tokens.yaml and the last good configuration live;
#   - the systemd unit (deploy/scim-gateway.service, with these paths), enabled when systemd runs.
# Then: fill in ldap.password and settings.yaml, `scim-gateway check`, `systemctl start` (README,
# "Run it for real"). Paths and the user can be changed for a second instance or a test:
#   PREFIX=/opt/scim-gateway ETC=/etc/scim-gateway STATE=/var/lib/scim-gateway
#   SERVICE_USER=scim-gateway UNIT_DIR=/etc/systemd/system PYTHON=/usr/bin/python3
# EXTRAS=python-ldap also installs the cheaper LDAP client (`client: python-ldap`, README), with
# what it builds against (libldap2-dev libsasl2-dev gcc python3-dev).
set -euo pipefail

source_dir="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX=${PREFIX:-/opt/scim-gateway}
ETC=${ETC:-/etc/scim-gateway}
STATE=${STATE:-/var/lib/scim-gateway}
SERVICE_USER=${SERVICE_USER:-scim-gateway}
UNIT_DIR=${UNIT_DIR:-/etc/systemd/system}
PYTHON=${PYTHON:-/usr/bin/python3}
EXTRAS=${EXTRAS:-}

[ "$(id -u)" = 0 ] || { echo "run this as root (it creates a user and installs into $PREFIX)" >&2; exit 1; }
[ -x "$PYTHON" ] || { echo "$PYTHON is missing: apt-get install python3" >&2; exit 1; }

if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
  echo "installing python3-venv ..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi

if ! getent group "$SERVICE_USER" >/dev/null; then
  groupadd --system "$SERVICE_USER"
fi
if ! getent passwd "$SERVICE_USER" >/dev/null; then
  useradd --system --gid "$SERVICE_USER" --home-dir "$STATE" --no-create-home \
          --shell /usr/sbin/nologin --comment "scim-gateway service" "$SERVICE_USER"
  echo "created the system user $SERVICE_USER" >&2
fi

echo "installing the package into $PREFIX ..." >&2
[ -x "$PREFIX/bin/python" ] || "$PYTHON" -m venv "$PREFIX"
if [[ ",$EXTRAS," == *",python-ldap,"* ]] && [ ! -e /usr/include/ldap.h ]; then
  echo "installing what python-ldap builds against ..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libldap2-dev libsasl2-dev gcc python3-dev >/dev/null
fi
"$PREFIX/bin/python" -m pip install -q --disable-pip-version-check --upgrade "$source_dir${EXTRAS:+[$EXTRAS]}"
install -m 0644 "$source_dir/README.md" "$PREFIX/README.md"
chmod -R u=rwX,go=rX "$PREFIX"

install -d -m 0750 -o root -g "$SERVICE_USER" "$ETC"
install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE"

if [ ! -e "$ETC/openldap.yaml" ]; then
  install -m 0640 -o root -g "$SERVICE_USER" "$source_dir/mappings/openldap.yaml" "$ETC/openldap.yaml"
fi
if [ ! -e "$ETC/ldap.password" ]; then
  install -m 0640 -o root -g "$SERVICE_USER" /dev/null "$ETC/ldap.password"
fi
if [ ! -e "$ETC/settings.yaml" ]; then
  umask 027
  cat > "$ETC/settings.yaml" <<SETTINGS
# scim-gateway settings (README, "Run it for real"; every key: gateway/settings.py, gateway/policy.py).
listen: 127.0.0.1:8080          # behind nginx on this host (deploy/nginx.conf)
trusted_proxies: 1              # that nginx: the client address comes from its X-Forwarded-For
tenants:
  - name: default
    base_path: /scim/v2                 # Tenant URL = https://<your host>/scim/v2
    mapping: openldap.yaml              # relative paths are relative to this file
    tokens_file: $STATE/tokens.yaml     # scim-gateway token create --config $ETC/settings.yaml
    ldap:
      url: ldaps://ldap.example.com:636     # your directory; or ldap:// with start_tls: true
      bind_dn: cn=gateway,dc=example,dc=com
      password_file: ldap.password          # the service account's password, one line
SETTINGS
  chown root:"$SERVICE_USER" "$ETC/settings.yaml"
  chmod 0640 "$ETC/settings.yaml"
fi

if [ -d "$UNIT_DIR" ] || [ "$UNIT_DIR" != /etc/systemd/system ]; then
  install -d "$UNIT_DIR"
  sed -e "s|/opt/scim-gateway|$PREFIX|g" -e "s|/etc/scim-gateway|$ETC|g" \
      -e "s|^User=scim-gateway|User=$SERVICE_USER|" -e "s|^Group=scim-gateway|Group=$SERVICE_USER|" \
      "$source_dir/deploy/scim-gateway.service" > "$UNIT_DIR/$SERVICE_USER.service"
  case "$STATE" in
    /var/lib/*) sed -i -e "s|^StateDirectory=.*|StateDirectory=${STATE#/var/lib/}|" "$UNIT_DIR/$SERVICE_USER.service" ;;
    *) sed -i -e "s|^StateDirectory=.*|ReadWritePaths=$STATE\nEnvironment=STATE_DIRECTORY=$STATE|" \
              -e "/^StateDirectoryMode=/d" "$UNIT_DIR/$SERVICE_USER.service" ;;
  esac
  chmod 0644 "$UNIT_DIR/$SERVICE_USER.service"
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable "$SERVICE_USER.service" >/dev/null
  fi
fi

cat >&2 <<DONE
installed. Next (README, "Run it for real"):
  1. put the directory service account's password in $ETC/ldap.password
  2. edit $ETC/settings.yaml (url, bind_dn) and $ETC/openldap.yaml (base, dn)
  3. $PREFIX/bin/scim-gateway token create --config $ETC/settings.yaml
  4. $PREFIX/bin/scim-gateway check --config $ETC/settings.yaml --user $SERVICE_USER
  5. systemctl start $SERVICE_USER
     (without systemd: runuser -u $SERVICE_USER -- env STATE_DIRECTORY=$STATE $PREFIX/bin/scim-gateway serve --config $ETC/settings.yaml)
DONE
