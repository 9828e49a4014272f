#!/bin/sh
# Vecto appliance installer: install, upgrade (with automatic rollback), uninstall, status.
#
# Run as root from the unpacked offline bundle (vecto-<version>/installer/install.sh); it needs no
# network. Every step is described in docs/install.md; `install.sh --help` lists the options.
#
# Layout it manages (paths as the installed system sees them; below DIR with --root DIR):
#   /opt/vecto/bin/vecto           the binary (root 0755); vecto.prev: the one before the last upgrade
#   /opt/vecto/{systemd,docs,installer}   copies from the bundle (reference, drop-in examples, this script)
#   /etc/vecto/vecto.env           configuration (0640 root:vecto), created once, never overwritten
#   /etc/vecto/credentials/        master-key or pkcs11-pin (0600 root), read by systemd's LoadCredential=
#   /etc/vecto/tls/                the customer's certificate (0644) and key (0600 vecto)
#   /var/lib/vecto                 data (0700 vecto); upgrade/: the pre-upgrade backups
#   /var/cache/vecto               native addons extracted by the binary (0700 vecto)
#   /etc/systemd/system/vecto.service (+ vecto.service.d/pkcs11.conf, low-port.conf)
set -eu
# Keys and PINs pass through here: every file starts private; modes are then set explicitly.
umask 077

PROG=install.sh
UNIT=vecto.service
SVC=vecto
OPT=/opt/vecto
BIN=$OPT/bin/vecto
ETC=/etc/vecto
ENV_FILE=$ETC/vecto.env
CRED_DIR=$ETC/credentials
TLS_DIR=$ETC/tls
STATE=/var/lib/vecto
CACHE=/var/cache/vecto
UPGRADE_DIR=$STATE/upgrade
UNIT_DIR=/etc/systemd/system
DROPIN_DIR=$UNIT_DIR/$UNIT.d
DEFAULT_LISTEN=127.0.0.1:8443
# Pre-upgrade backups kept in $UPGRADE_DIR (older ones are removed after a successful upgrade).
KEEP_UPGRADE_BACKUPS=3

die() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	exit 1
}
say() { printf '%s\n' "$*"; }
skip() { printf '%s: skipped: %s\n' "$PROG" "$*"; }

usage() {
	cat <<'EOF'
Usage: install.sh [install] [options]     install from this bundle (idempotent)
       install.sh upgrade [options]       upgrade an installation to this bundle (backup, swap, health check, rollback)
       install.sh verify [--pubkey FILE]  only check this bundle (checksums, signature); changes nothing
       install.sh uninstall [--purge --yes] [--root DIR]
       install.sh status [--root DIR]
       install.sh exec [--root DIR] [--] VECTO-ARGS...   run /opt/vecto/bin/vecto as the service does (user, environment, credentials)

Options:
  --pubkey FILE            verify SHA256SUMS.sig with this Ed25519 public key (PEM) before anything else;
                           remembered as /etc/vecto/release-signing-key.pem and used by later upgrades
  --tls-cert FILE --tls-key FILE   your PKI's certificate chain and key (default: a self-signed one)
  --pkcs11-lib PATH --pkcs11-token LABEL --pkcs11-pin-file FILE --pkcs11-key-label LABEL
                           master key in an HSM instead of a key file (docs/hsm.md)
  --pkcs11-create-key      also generate that key in the token (vecto keys init-hsm)
  --listen HOST:PORT       HTTPS address (default 127.0.0.1:8443; 0.0.0.0:8443 to serve the network)
  --no-start               do not start or restart the service (upgrade: check the new binary with a trial run)
  --timeout SECONDS        how long to wait for /readyz (default 120)
  --root DIR               install below DIR instead of / (a staging or test root; nothing is started)
  --purge                  uninstall: also delete /etc/vecto (master key!), /var/lib/vecto and the user (needs --yes)
EOF
}

# ---------------------------------------------------------------------------------------------
# Arguments

COMMAND=install
case ${1-} in
install | upgrade | uninstall | status | exec | verify)
	COMMAND=$1
	shift
	;;
-h | --help | help)
	usage
	exit 0
	;;
esac

ROOT=""
PUBKEY=""
TLS_CERT=""
TLS_KEY=""
P11_LIB=""
P11_TOKEN=""
P11_PIN=""
P11_KEY=""
P11_CREATE=""
LISTEN=""
NO_START=""
TIMEOUT=120
PURGE=""
YES=""

need_value() {
	[ "$2" -ge 2 ] || die "$1 needs a value"
}

while [ $# -gt 0 ]; do
	case $1 in
	--root)
		need_value "$1" $#
		[ -d "$2" ] || die "--root $2 is not a directory"
		ROOT=$(cd "$2" && pwd -P)
		case $ROOT in *[!A-Za-z0-9_./-]*) die "--root: use a path of letters, digits and ._-/ only (got \"$ROOT\")" ;; esac
		[ "$ROOT" = / ] && ROOT=""
		shift 2
		;;
	--) shift && break ;;
	-h | --help) usage && exit 0 ;;
	*)
		[ "$COMMAND" = exec ] && break
		case $1 in
		--pubkey) need_value "$1" $# && PUBKEY=$2 && shift 2 ;;
		--tls-cert) need_value "$1" $# && TLS_CERT=$2 && shift 2 ;;
		--tls-key) need_value "$1" $# && TLS_KEY=$2 && shift 2 ;;
		--pkcs11-lib) need_value "$1" $# && P11_LIB=$2 && shift 2 ;;
		--pkcs11-token) need_value "$1" $# && P11_TOKEN=$2 && shift 2 ;;
		--pkcs11-pin-file) need_value "$1" $# && P11_PIN=$2 && shift 2 ;;
		--pkcs11-key-label) need_value "$1" $# && P11_KEY=$2 && shift 2 ;;
		--pkcs11-create-key) P11_CREATE=1 && shift ;;
		--listen) need_value "$1" $# && LISTEN=$2 && shift 2 ;;
		--no-start) NO_START=1 && shift ;;
		--timeout) need_value "$1" $# && TIMEOUT=$2 && shift 2 ;;
		--purge) PURGE=1 && shift ;;
		--yes) YES=1 && shift ;;
		*) die "unknown option $1 (install.sh --help)" ;;
		esac
		;;
	esac
done
[ "$COMMAND" = exec ] || [ $# -eq 0 ] || die "unexpected argument $1 (install.sh --help)"

case $TIMEOUT in '' | *[!0-9]*) die "--timeout expects whole seconds (got \"$TIMEOUT\")" ;; esac
if [ -n "$TLS_CERT$TLS_KEY" ] && { [ -z "$TLS_CERT" ] || [ -z "$TLS_KEY" ]; }; then
	die "--tls-cert and --tls-key go together"
fi
if [ -n "$P11_LIB$P11_TOKEN$P11_PIN$P11_KEY" ] && { [ -z "$P11_LIB" ] || [ -z "$P11_TOKEN" ] || [ -z "$P11_PIN" ] || [ -z "$P11_KEY" ]; }; then
	die "--pkcs11-lib, --pkcs11-token, --pkcs11-pin-file and --pkcs11-key-label go together"
fi
[ -z "$P11_CREATE" ] || [ -n "$P11_LIB" ] || die "--pkcs11-create-key needs the --pkcs11-* settings"
if [ -n "$LISTEN" ]; then
	port=${LISTEN##*:}
	host=${LISTEN%:*}
	case $port in '' | *[!0-9]* | ??????*) die "--listen expects HOST:PORT, e.g. 0.0.0.0:8443 or [::]:8443 (got \"$LISTEN\")" ;; esac
	case $host in '' | "$LISTEN" | *[!A-Za-z0-9.:\[\]-]*) die "--listen expects HOST:PORT, e.g. 0.0.0.0:8443 or [::]:8443 (got \"$LISTEN\")" ;; esac
	[ "$port" -le 65535 ] || die "--listen: port $port is above 65535"
fi
# Which options each command takes.
CONFIG_OPTS=$TLS_CERT$P11_LIB$P11_CREATE$LISTEN
case $COMMAND in
install) [ -z "$PURGE$YES" ] || die "--purge and --yes are uninstall options" ;;
upgrade)
	[ -z "$CONFIG_OPTS" ] || die "upgrade keeps the configuration: change it with \"$PROG install\" options (same version) or in /etc/vecto/vecto.env"
	[ -z "$PURGE$YES" ] || die "--purge and --yes are uninstall options"
	;;
uninstall) [ -z "$CONFIG_OPTS$PUBKEY$NO_START" ] || die "uninstall takes only --purge, --yes and --root" ;;
verify) [ -z "$CONFIG_OPTS$NO_START$PURGE$YES" ] || die "verify takes only --pubkey and --root" ;;
*) [ -z "$CONFIG_OPTS$PUBKEY$NO_START$PURGE$YES" ] || die "$COMMAND takes only --root" ;;
esac

[ "$COMMAND" = verify ] || [ "$(id -u)" -eq 0 ] || die "run as root (it creates a system user, /opt/vecto, /etc/vecto and the systemd unit)"

# The bundle this script belongs to: vecto-<version>/installer/install.sh.
BUNDLE=$(cd "$(dirname "$0")/.." && pwd -P)

# systemd manages the service only when it runs here and we install into the running system.
SYSTEMD=""
if [ -z "$ROOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	SYSTEMD=1
fi

# ---------------------------------------------------------------------------------------------
# Temporary files, cleaned up however the script ends

WORK=""
RUNDIR=""
TRIAL_PID=""
cleanup() {
	if [ -n "$TRIAL_PID" ]; then
		kill -TERM "$TRIAL_PID" 2>/dev/null || true
		wait "$TRIAL_PID" 2>/dev/null || true
	fi
	# RUNDIR holds copies of the credentials: remove it first.
	[ -z "$RUNDIR" ] || rm -rf "$RUNDIR"
	[ -z "$WORK" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vecto-install.XXXXXX")

# ---------------------------------------------------------------------------------------------
# Small helpers

# On-disk path of a path of the installed system.
p() { printf '%s%s' "$ROOT" "$1"; }

have() { command -v "$1" >/dev/null 2>&1; }

same_file() { [ -f "$1" ] && [ -f "$2" ] && cmp -s "$1" "$2"; }

# put SRC DEST MODE OWNER: installs a file atomically (temp file + rename) unless DEST already has
# that content, mode and owner. Sets CHANGED=1 when it wrote something.
CHANGED=""
put() {
	if same_file "$1" "$2" && [ "$(stat -c '%a %u:%g' "$2")" = "$(printf '%o' "0$3") $4" ]; then
		return 0
	fi
	cp "$1" "$2.tmp.$$"
	chown "$4" "$2.tmp.$$"
	chmod "$3" "$2.tmp.$$"
	mv -f "$2.tmp.$$" "$2"
	CHANGED=1
}

# mkdirs PATH: like mkdir -p, parents readable by everyone (as / usually is).
mkdirs() { (umask 022 && mkdir -p "$1"); }

# dir PATH MODE OWNER: creates one of our directories, or fixes its mode and owner.
dir() {
	[ -d "$1" ] || mkdirs "$1"
	chown "$3" "$1"
	chmod "$2" "$1"
}

# Service user and group ids, read from the (possibly alternate) root's own databases.
svc_id() {
	if [ -z "$ROOT" ]; then
		getent "$1" "$SVC" | cut -d: -f3
	else
		awk -F: -v n="$SVC" '$1 == n { print $3 }' "$ROOT/etc/$1"
	fi
}

user_exists() { [ -n "$(svc_id passwd)" ]; }

# Supplementary groups of the service user (systemd gives them to the unit via initgroups).
svc_groups() {
	awk -F: -v n="$SVC" -v g="$SVC_GID" 'BEGIN { out = g }
		{ split($4, m, ","); for (i in m) if (m[i] == n && $3 != g) out = out "," $3 }
		END { print out }' "$ROOT/etc/group"
}

# env_get KEY: the value of KEY in the env file (last assignment wins, quotes removed).
env_get() {
	[ -f "$(p "$ENV_FILE")" ] || return 0
	awk -v k="$1" '
		{ sub(/^[ \t]+/, "") }
		index($0, k "=") == 1 || $0 ~ ("^" k "[ \t]*=") { v = substr($0, index($0, "=") + 1); sub(/^[ \t]+/, "", v); sub(/[ \t\r]+$/, "", v); found = 1 }
		END { if (found) { if (v ~ /^".*"$/ || v ~ /^'\''.*'\''$/) v = substr(v, 2, length(v) - 2); print v } }' "$(p "$ENV_FILE")"
}

# env_set KEY VALUE: sets KEY in the env file (the first active assignment is replaced and later
# ones dropped; appended when there is none). Comments stay as they are.
env_set() {
	[ "$(env_get "$1")" = "$2" ] && return 0
	K=$1 V=$2 awk 'BEGIN { k = ENVIRON["K"]; v = ENVIRON["V"] }
		{ line = $0; sub(/^[ \t]+/, "", line) }
		index(line, k "=") == 1 || line ~ ("^" k "[ \t]*=") { if (!done) print k "=" v; done = 1; next }
		{ print }
		END { if (!done) print k "=" v }' "$(p "$ENV_FILE")" >"$WORK/env"
	put "$WORK/env" "$(p "$ENV_FILE")" 0640 "0:$SVC_GID"
	say "  $ENV_FILE: $1=$2"
}

key_resolver() {
	r=$(env_get VECTO_KEY_RESOLVER)
	printf '%s' "${r:-env}"
}

listen_addr() {
	l=$(env_get VECTO_LISTEN)
	printf '%s' "${l:-$DEFAULT_LISTEN}"
}

installed_version() {
	"$(p "$BIN")" version 2>/dev/null | awk '{ print $2; exit }'
}

# ---------------------------------------------------------------------------------------------
# Running the binary as the service does

# The credentials the unit passes (LoadCredential=), copied for the service user into a private
# directory under /run, which plays $CREDENTIALS_DIRECTORY. Refreshed before every command.
prepare_credentials() {
	if [ -z "$RUNDIR" ]; then
		[ -d "$(p /run)" ] || mkdirs "$(p /run)"
		RUNDIR=$(mktemp -d "$(p /run)/vecto-install.XXXXXX")
		chmod 0711 "$RUNDIR"
	fi
	rm -rf "$RUNDIR/credentials"
	mkdir -m 0700 "$RUNDIR/credentials"
	for name in master-key pkcs11-pin; do
		src=$(p "$CRED_DIR/$name")
		[ -f "$src" ] || continue
		cp "$src" "$RUNDIR/credentials/$name"
		chown "$SVC_UID:$SVC_GID" "$RUNDIR/credentials/$name"
		chmod 0400 "$RUNDIR/credentials/$name"
	done
	chown "$SVC_UID:$SVC_GID" "$RUNDIR/credentials"
}

# as_service ARGS...: /opt/vecto/bin/vecto ARGS as the service user, with the unit's environment
# (the env file is read by the binary itself, as under systemd). EXTRA_ENV adds one VAR=value.
EXTRA_ENV=""
as_service() {
	prepare_credentials
	(exec_as_service "$@")
}

# Replaces the current (sub)shell with the command; prepare_credentials must have run.
exec_as_service() {
	cd /
	# shellcheck disable=SC2086 # EXTRA_ENV is empty or one VAR=value word
	exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME="$STATE" \
		STATE_DIRECTORY="$STATE" CACHE_DIRECTORY="$CACHE" CREDENTIALS_DIRECTORY="${RUNDIR#"$ROOT"}/credentials" $EXTRA_ENV \
		chroot --userspec="$SVC_UID:$SVC_GID" --groups="$(svc_groups)" "${ROOT:-/}" "$BIN" "$@" </dev/null
}

# ---------------------------------------------------------------------------------------------
# Bundle verification: before anything is touched

verify_bundle() {
	sums=$BUNDLE/SHA256SUMS
	[ -f "$sums" ] || die "$sums is missing: not a Vecto bundle (or an incomplete one); nothing was changed"
	have sha256sum || die "sha256sum (coreutils) is needed to verify the bundle; nothing was changed"

	if [ -z "$PUBKEY" ] && [ -f "$(p "$ETC/release-signing-key.pem")" ]; then
		PUBKEY=$(p "$ETC/release-signing-key.pem")
		say "Signature: checking with the key pinned at install time ($ETC/release-signing-key.pem)"
	fi
	if [ -n "$PUBKEY" ]; then
		[ -f "$PUBKEY" ] || die "--pubkey $PUBKEY does not exist; nothing was changed"
		have openssl || die "openssl is not installed: cannot check the signature with --pubkey, refusing to install unverified; nothing was changed"
		[ -f "$sums.sig" ] || die "SHA256SUMS.sig is missing: cannot check the signature; nothing was changed"
		openssl pkey -pubin -in "$PUBKEY" -noout -text 2>/dev/null | grep -q '^ED25519 Public-Key' ||
			die "$PUBKEY is not an Ed25519 public key (PEM); nothing was changed"
		base64 -d <"$sums.sig" >"$WORK/sig" 2>/dev/null || die "SHA256SUMS.sig is not base64; nothing was changed"
		[ "$(wc -c <"$WORK/sig")" -eq 64 ] || die "SHA256SUMS.sig is not a 64-byte Ed25519 signature; nothing was changed"
		openssl pkeyutl -verify -pubin -inkey "$PUBKEY" -rawin -in "$sums" -sigfile "$WORK/sig" >/dev/null 2>&1 ||
			die "signature check failed: SHA256SUMS.sig does not verify with $PUBKEY (tampered bundle, wrong key, or OpenSSL older than 3.0); nothing was changed"
		say "Signature: SHA256SUMS is signed by $PUBKEY"
	else
		say "Signature: NOT checked (no --pubkey); checksums only"
	fi

	# Paths in SHA256SUMS stay inside the bundle; every file that gets installed must be listed.
	sed -n 's/^[0-9a-f]\{64\} [ *]//p' "$sums" >"$WORK/listed"
	[ "$(wc -l <"$WORK/listed")" -eq "$(grep -c . "$sums")" ] || die "SHA256SUMS has malformed lines; nothing was changed"
	if grep -Eq '^/|(^|/)\.\.(/|$)' "$WORK/listed"; then
		die "SHA256SUMS names a path outside the bundle; nothing was changed"
	fi
	for required in bin/vecto systemd/vecto.service installer/install.sh config/vecto.env.example; do
		grep -Fqx "$required" "$WORK/listed" || die "SHA256SUMS does not list $required; nothing was changed"
	done
	(cd "$BUNDLE" && find bin systemd installer docs config ! -type d -print 2>/dev/null) >"$WORK/present" || true
	while IFS= read -r f; do
		if [ -L "$BUNDLE/$f" ] || [ ! -f "$BUNDLE/$f" ]; then
			die "$f in the bundle is not a regular file; nothing was changed"
		fi
		grep -Fqx "$f" "$WORK/listed" || die "$f is in the bundle but not in SHA256SUMS; nothing was changed"
	done <"$WORK/present"

	if ! (cd "$BUNDLE" && sha256sum --check --strict --quiet SHA256SUMS) >"$WORK/check" 2>&1; then
		die "bundle verification failed: $(grep -m1 -v '^sha256sum: WARNING' "$WORK/check" || echo 'sha256sum --check failed'); nothing was changed"
	fi
	NEW_VERSION=$(cat "$BUNDLE/VERSION" 2>/dev/null || "$BUNDLE/bin/vecto" version | awk '{ print $2 }')
	say "Bundle: vecto $NEW_VERSION, every file matches SHA256SUMS"
}

# The bundle's binary must run here (right architecture, glibc) before it replaces anything.
check_new_binary() {
	out=$("$BUNDLE/bin/vecto" version 2>&1) || die "the bundle's binary does not run on this machine: $out"
}

# ---------------------------------------------------------------------------------------------
# Install steps

ensure_user() {
	opt=""
	[ -z "$ROOT" ] || opt="--root $ROOT"
	if [ -z "$(svc_id group)" ]; then
		# shellcheck disable=SC2086 # opt is empty or "--root DIR" (DIR has no spaces: checked)
		groupadd $opt --system "$SVC" || die "groupadd $SVC failed"
		say "  created system group $SVC"
	fi
	if ! user_exists; then
		# shellcheck disable=SC2086
		useradd $opt --system --gid "$SVC" --no-create-home --home-dir "$STATE" \
			--shell /usr/sbin/nologin --comment "Vecto appliance" "$SVC" 2>"$WORK/useradd" ||
			die "useradd $SVC failed: $(head -n 1 "$WORK/useradd")"
		say "  created system user $SVC"
	fi
	SVC_UID=$(svc_id passwd)
	SVC_GID=$(svc_id group)
	[ "$SVC_UID" != 0 ] || die "user $SVC has uid 0; refusing to run the service as root"
}

ensure_dirs() {
	mkdirs "$(p "$UNIT_DIR")"
	dir "$(p "$OPT")" 0755 0:0
	dir "$(p "$OPT/bin")" 0755 0:0
	dir "$(p "$ETC")" 0750 "0:$SVC_GID"
	dir "$(p "$CRED_DIR")" 0700 0:0
	dir "$(p "$STATE")" 0700 "$SVC_UID:$SVC_GID"
	dir "$(p "$CACHE")" 0700 "$SVC_UID:$SVC_GID"
}

# Copies a bundle tree (only files listed in SHA256SUMS exist there: checked) to /opt/vecto/NAME.
# Reference copies: changes here never need a restart, so CHANGED is not tracked (subshells).
install_tree() {
	src=$BUNDLE/$1
	dest=$(p "$OPT/$1")
	[ -d "$src" ] || return 0
	(cd "$src" && find . -type d) | while IFS= read -r d; do dir "$dest/$d" 0755 0:0; done
	(cd "$src" && find . -type f) | while IFS= read -r f; do
		mode=0644
		[ ! -x "$src/$f" ] || mode=0755
		put "$src/$f" "$dest/$f" "$mode" 0:0
	done
}

install_files() {
	put "$BUNDLE/bin/vecto" "$(p "$BIN")" 0755 0:0
	for tree in systemd docs installer; do install_tree "$tree"; done
	install_units
}

UNITS_CHANGED=""
install_units() {
	changed_before=$CHANGED
	CHANGED=""
	put "$BUNDLE/systemd/$UNIT" "$(p "$UNIT_DIR/$UNIT")" 0644 0:0
	if [ "$(key_resolver)" = pkcs11 ] || [ -n "$(env_get VECTO_PKCS11_LIB)" ]; then
		dir "$(p "$DROPIN_DIR")" 0755 0:0
		put "$BUNDLE/systemd/$UNIT.d/pkcs11.conf" "$(p "$DROPIN_DIR/pkcs11.conf")" 0644 0:0
	fi
	port=$(listen_addr)
	port=${port##*:}
	lowport=$(p "$DROPIN_DIR/low-port.conf")
	if [ "$port" -gt 0 ] && [ "$port" -lt 1024 ]; then
		dir "$(p "$DROPIN_DIR")" 0755 0:0
		put "$BUNDLE/systemd/$UNIT.d/low-port.conf.example" "$lowport" 0644 0:0
		say "  port $port is below 1024: installed $DROPIN_DIR/low-port.conf (CAP_NET_BIND_SERVICE, PrivateUsers=no)"
	elif same_file "$BUNDLE/systemd/$UNIT.d/low-port.conf.example" "$lowport"; then
		rm -f "$lowport"
		CHANGED=1
	fi
	[ -z "$CHANGED" ] || UNITS_CHANGED=1
	CHANGED=$changed_before$CHANGED
}

ensure_env_file() {
	if [ ! -f "$(p "$ENV_FILE")" ]; then
		put "$BUNDLE/config/vecto.env.example" "$(p "$ENV_FILE")" 0640 "0:$SVC_GID"
		say "  created $ENV_FILE"
	else
		chown "0:$SVC_GID" "$(p "$ENV_FILE")"
		chmod 0640 "$(p "$ENV_FILE")"
	fi
}

configure_listen() {
	[ -n "$LISTEN" ] || return 0
	env_set VECTO_LISTEN "$LISTEN"
}

# The customer's certificate, checked with the bundle's binary (the key matches, the certificate is
# within its validity period) before anything is changed, so a bad pair never lands where the
# service reads it.
check_tls_files() {
	[ -n "$TLS_CERT" ] || return 0
	grep -q -- '-----BEGIN CERTIFICATE-----' "$TLS_CERT" 2>/dev/null || die "--tls-cert $TLS_CERT is not a PEM certificate"
	grep -q -- '-----BEGIN .*PRIVATE KEY-----' "$TLS_KEY" 2>/dev/null || die "--tls-key $TLS_KEY is not a PEM private key"
	VECTO_ENV_FILE=/dev/null "$BUNDLE/bin/vecto" tls check --cert "$TLS_CERT" --key "$TLS_KEY" >"$WORK/tls-check" 2>&1 ||
		die "--tls-cert/--tls-key: $(tail -n 1 "$WORK/tls-check" | sed 's/^vecto: //'); nothing was changed"
}

# Installs the checked pair into /etc/vecto/tls. New files at the same paths only renew the
# certificate: TLS_CHANGED has a running service reload them (SIGHUP) instead of restarting.
TLS_CHANGED=""
configure_tls() {
	[ -n "$TLS_CERT" ] || return 0
	dir "$(p "$TLS_DIR")" 0750 "0:$SVC_GID"
	changed_before=$CHANGED
	CHANGED=""
	put "$TLS_CERT" "$(p "$TLS_DIR/cert.pem")" 0644 0:0
	# vecto doctor wants the key 0600 and owned by the service user; the service sees /etc read-only.
	put "$TLS_KEY" "$(p "$TLS_DIR/key.pem")" 0600 "$SVC_UID:$SVC_GID"
	if [ -n "$CHANGED" ]; then
		TLS_CHANGED=1
		say "  installed $TLS_CERT and $TLS_KEY as $TLS_DIR/cert.pem and key.pem (replacing what was there)"
	fi
	CHANGED=$changed_before
	env_set VECTO_TLS_CERT "$TLS_DIR/cert.pem"
	env_set VECTO_TLS_KEY "$TLS_DIR/key.pem"
}

configure_pkcs11() {
	[ -n "$P11_LIB" ] || return 0
	case $P11_LIB in /*) ;; *) die "--pkcs11-lib must be an absolute path" ;; esac
	[ -f "$(p "$P11_LIB")" ] || die "--pkcs11-lib $P11_LIB does not exist"
	[ -f "$P11_PIN" ] || die "--pkcs11-pin-file $P11_PIN does not exist"
	[ "$(grep -c . "$P11_PIN")" -eq 1 ] || die "--pkcs11-pin-file $P11_PIN must hold the PIN on one line"
	if [ -f "$(p "$STATE/vecto.db")" ] && [ "$(key_resolver)" != pkcs11 ]; then
		die "this installation already keeps its master key in a file: moving it into an HSM is a master-key rotation (docs/key-rotation.md), not an install option"
	fi
	env_set VECTO_KEY_RESOLVER pkcs11
	env_set VECTO_PKCS11_LIB "$P11_LIB"
	env_set VECTO_PKCS11_TOKEN_LABEL "$P11_TOKEN"
	env_set VECTO_PKCS11_KEY_LABEL "$P11_KEY"
	put "$P11_PIN" "$(p "$CRED_DIR/pkcs11-pin")" 0600 0:0
}

# Creates the data directory, the master key (env resolver) and the database, once.
INITIALISED=""
initialise() {
	if [ -f "$(p "$STATE/vecto.db")" ]; then
		say "  data: $STATE is initialised already (kept data is migrated by the service at start if this version is newer)"
		return 0
	fi
	key=$(p "$CRED_DIR/master-key")
	if [ "$(key_resolver)" = env ] && [ -f "$key" ]; then
		# vecto init refuses an existing key (it never overwrites one): the service creates the
		# database with this key at its first start.
		say "  data: keeping the existing master key $CRED_DIR/master-key; the database is created at the first start"
		return 0
	fi
	if [ "$(key_resolver)" = env ]; then
		# vecto init writes the key (base64 of 32 random bytes, 0600) where it is told; it then
		# becomes root's file in /etc/vecto/credentials, read by systemd's LoadCredential=.
		prepare_credentials
		EXTRA_ENV="VECTO_MASTER_KEY_FILE=${RUNDIR#"$ROOT"}/credentials/new-master-key"
		status=0
		as_service init >"$WORK/init" 2>&1 || status=$?
		EXTRA_ENV=""
		if [ -f "$RUNDIR/credentials/new-master-key" ]; then
			put "$RUNDIR/credentials/new-master-key" "$key" 0600 0:0
		fi
		[ "$status" -eq 0 ] || die "vecto init failed: $(tail -n 1 "$WORK/init")"
		say "  created the master key $CRED_DIR/master-key (keep an offline copy: losing it loses every tenant's data)"
	else
		as_service init >"$WORK/init" 2>&1 || die "vecto init failed: $(tail -n 1 "$WORK/init")"
		if [ -n "$P11_CREATE" ]; then
			as_service keys init-hsm >"$WORK/hsm" 2>&1 || die "vecto keys init-hsm failed: $(tail -n 1 "$WORK/hsm")"
			say "  $(head -n 1 "$WORK/hsm")"
		fi
	fi
	say "  data: initialised $STATE (owner $SVC)"
	INITIALISED=1
}

# vecto doctor (permissions, keys, certificate, database) on a freshly initialised data
# directory, before the first start: a problem is one clear failure here, not a crash loop. Data
# kept from an earlier installation is not checked here: its schema may be older than this
# version's until the service migrates it at start; the readiness check covers it.
preflight_doctor() {
	if ! as_service doctor >"$WORK/doctor" 2>&1; then
		grep -v '^ok ' "$WORK/doctor" | sed 's/^/  /' >&2
		die "vecto doctor found problems (above); fix them and run $PROG again (it is idempotent)"
	fi
	say "  vecto doctor: every check passed"
}

pin_release_key() {
	[ -n "$PUBKEY" ] || return 0
	pinned=$(p "$ETC/release-signing-key.pem")
	[ "$PUBKEY" = "$pinned" ] && return 0
	put "$PUBKEY" "$pinned" 0644 0:0
}

# ---------------------------------------------------------------------------------------------
# Starting, stopping, readiness

# The address to probe: a wildcard listen address is reached over loopback.
probe_target() {
	addr=$(listen_addr)
	PROBE_PORT=${addr##*:}
	PROBE_HOST=${addr%:*}
	case $PROBE_HOST in 0.0.0.0 | '') PROBE_HOST=127.0.0.1 ;; '[::]' | '::') PROBE_HOST='[::1]' ;; esac
}

# One GET /readyz. curl, else openssl s_client; -k/no verification: this probes our own
# service over loopback, whose certificate may be self-signed or issued for another name.
probe_ready() {
	probe_target
	[ "$PROBE_PORT" != 0 ] || return 1
	if have curl; then
		code=$(curl --silent --insecure --max-time 5 --output /dev/null --write-out '%{http_code}' \
			"https://$PROBE_HOST:$PROBE_PORT/readyz" 2>/dev/null) || true
		[ "$code" = 200 ]
	elif have openssl; then
		printf 'GET /readyz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$PROBE_HOST" |
			timeout 10 openssl s_client -quiet -connect "$PROBE_HOST:$PROBE_PORT" 2>/dev/null |
			head -n 1 | grep -q '^HTTP/1\.1 200'
	else
		return 2
	fi
}

# The service's log line once it listens (only used when neither curl nor openssl is installed).
logged_listening() {
	if [ -n "$TRIAL_PID" ]; then
		grep -q '"msg":"vecto is listening"' "$WORK/trial.log"
	else
		inv=$(systemctl show --property=InvocationID --value "$UNIT")
		[ -n "$inv" ] && journalctl --quiet --output=cat "_SYSTEMD_INVOCATION_ID=$inv" 2>/dev/null | grep -q '"msg":"vecto is listening"'
	fi
}

# wait_ready: until /readyz answers 200, the service dies, or $TIMEOUT seconds pass. NOT_READY
# says which of the last two happened.
wait_ready() {
	waited=0
	NOT_READY="it stopped"
	while [ "$waited" -lt "$TIMEOUT" ]; do
		if [ -n "$TRIAL_PID" ]; then
			kill -0 "$TRIAL_PID" 2>/dev/null || return 1
		else
			# A failed start, or one systemd is about to retry (Restart=on-failure): not ready.
			case $(systemctl show --property=ActiveState,SubState --value "$UNIT" | tr '\n' ' ') in
			failed* | *auto-restart*) return 1 ;;
			esac
		fi
		status=0
		probe_ready || status=$?
		[ "$status" -eq 0 ] && return 0
		[ "$status" -eq 2 ] && logged_listening && return 0
		sleep 1
		waited=$((waited + 1))
	done
	NOT_READY="not ready after ${TIMEOUT}s"
	return 1
}

# The last lines the service logged, for a failure message.
service_log() {
	if [ -n "${TRIAL_LOG-}" ] && [ -f "$TRIAL_LOG" ]; then
		tail -n 5 "$TRIAL_LOG"
	elif [ -n "$SYSTEMD" ]; then
		# What the service's last run printed itself; systemd's own lines when it printed nothing.
		inv=$(systemctl show --property=InvocationID --value "$UNIT" 2>/dev/null || true)
		out=""
		[ -z "$inv" ] || out=$(journalctl --quiet --no-pager --output=cat "_SYSTEMD_INVOCATION_ID=$inv" 2>/dev/null | tail -n 5)
		[ -n "$out" ] || out=$(journalctl --quiet --no-pager --output=cat --lines=5 --unit="$UNIT" 2>/dev/null || true)
		printf '%s\n' "$out"
	fi
}

# Without systemd (or with --no-start on upgrade): start `vecto serve` the way the unit would, in
# the background, to check it becomes ready; trial_stop ends it with SIGTERM.
trial_start() {
	TRIAL_LOG=$WORK/trial.log
	: >"$TRIAL_LOG"
	prepare_credentials
	# The background subshell execs: $! is the vecto process itself.
	exec_as_service serve >"$TRIAL_LOG" 2>&1 &
	TRIAL_PID=$!
}

trial_stop() {
	[ -n "$TRIAL_PID" ] || return 0
	kill -TERM "$TRIAL_PID" 2>/dev/null || true
	wait "$TRIAL_PID" 2>/dev/null || true
	TRIAL_PID=""
}

setup_url() {
	addr=$(listen_addr)
	host=${addr%:*}
	case $host in 0.0.0.0 | '[::]' | '::') host=$(hostname -f 2>/dev/null || uname -n) ;; esac
	printf 'https://%s:%s/' "$host" "${addr##*:}"
}

print_setup() {
	say ""
	say "Vecto is installed. API URL: $(setup_url)"
	if [ -n "$INITIALISED" ] && [ -f "$(p "$STATE/vecto.db")" ]; then
		if as_service setup-token >"$WORK/token" 2>&1; then
			say "Create the platform root with this one-time setup token (POST /api/setup; docs/install.md, \"First login\"):"
			sed 's/^/  /' "$WORK/token"
		else
			say "No setup token: $(tail -n 1 "$WORK/token")"
		fi
	else
		say "A new one-time setup token, while setup is pending: $PROG exec${ROOT:+ --root $ROOT} setup-token"
	fi
	case $(listen_addr) in 127.* | '[::1]'* | localhost:*)
		say "It listens on loopback only; to serve the network: $PROG --listen 0.0.0.0:8443" ;;
	esac
}

# ---------------------------------------------------------------------------------------------
# Commands

cmd_install() {
	verify_bundle
	check_new_binary
	if [ -f "$(p "$BIN")" ] && ! same_file "$BUNDLE/bin/vecto" "$(p "$BIN")"; then
		die "vecto $(installed_version) is installed; this bundle is $NEW_VERSION: use \"$PROG upgrade\""
	fi
	check_tls_files
	for tool in useradd groupadd chroot getent; do have "$tool" || die "$tool is needed (passwd/coreutils packages)"; done
	say "Installing vecto $NEW_VERSION${ROOT:+ into $ROOT}"
	ensure_user
	ensure_dirs
	CHANGED=""
	ensure_env_file
	configure_listen
	configure_tls
	configure_pkcs11
	pin_release_key
	install_files
	initialise
	[ -z "$INITIALISED" ] || preflight_doctor
	[ -n "$CHANGED$TLS_CHANGED$INITIALISED" ] || say "  nothing changed"

	if [ -z "$SYSTEMD" ]; then
		if have systemctl && systemctl --root="${ROOT:-/}" enable "$UNIT" >/dev/null 2>&1; then
			say "  enabled $UNIT (offline: it starts at the next boot under systemd)"
		fi
		skip "starting $UNIT: systemd is not running here${ROOT:+ (installing into $ROOT)}; run the service as the unit does: $PROG exec${ROOT:+ --root $ROOT} serve"
		print_setup
		return 0
	fi
	[ -z "$UNITS_CHANGED" ] || systemctl daemon-reload
	systemctl enable --quiet "$UNIT"
	if [ -n "$NO_START" ]; then
		skip "starting $UNIT (--no-start); start it with: systemctl start $UNIT"
		print_setup
		return 0
	fi
	if ! systemctl is-active --quiet "$UNIT"; then
		systemctl start "$UNIT" || true
	elif [ -n "$CHANGED" ]; then
		say "  restarting $UNIT (files or settings changed)"
		systemctl restart "$UNIT" || true
	elif [ -n "$TLS_CHANGED" ]; then
		say "  reloading $UNIT (new certificate files; open connections are kept)"
		systemctl reload "$UNIT" || true
	fi
	say "  waiting for $(setup_url)readyz (up to ${TIMEOUT}s)"
	wait_ready || die "$UNIT did not become ready ($NOT_READY): $(service_log | tail -n 1) (journalctl -u $UNIT)"
	print_setup
}

# Upgrade: stop, verified backup, atomic swap, start, health check; roll back on failure.
cmd_upgrade() {
	verify_bundle
	[ -f "$(p "$BIN")" ] || die "no installation at $BIN; use \"$PROG install\""
	check_new_binary
	OLD_VERSION=$(installed_version)
	[ -n "$OLD_VERSION" ] || die "the installed $BIN does not run (vecto version failed); see docs/install.md, \"Manual rollback\""
	if same_file "$BUNDLE/bin/vecto" "$(p "$BIN")"; then
		say "vecto $OLD_VERSION is installed already: nothing to upgrade (\"$PROG install\" re-checks the installation)"
		return 0
	fi
	user_exists || die "the service user $SVC does not exist: the installation is incomplete; run \"$PROG install\" with the old bundle first"
	SVC_UID=$(svc_id passwd)
	SVC_GID=$(svc_id group)
	[ -f "$(p "$STATE/vecto.db")" ] || die "$STATE holds no database yet: nothing to upgrade; use \"$PROG install\" after removing $BIN"
	say "Upgrading vecto $OLD_VERSION -> $NEW_VERSION${ROOT:+ in $ROOT}"

	# The new version is checked by restarting the unit when it was running (and --no-start was not
	# given); otherwise by a trial run of `vecto serve` as the service user, stopped afterwards.
	WAS_ACTIVE=""
	if [ -n "$SYSTEMD" ] && systemctl is-active --quiet "$UNIT"; then
		WAS_ACTIVE=1
	fi
	USE_SYSTEMD=""
	[ -z "$WAS_ACTIVE" ] || [ -n "$NO_START" ] || USE_SYSTEMD=1
	if [ -z "$WAS_ACTIVE" ] && probe_ready; then
		die "a vecto server answers on $(listen_addr) outside systemd's control: stop it first; nothing was changed"
	fi

	# 1. Stop, so the backup holds every acknowledged write.
	if [ -n "$WAS_ACTIVE" ]; then
		say "  stopping $UNIT"
		systemctl stop "$UNIT"
	fi

	# 2. Verified backup, with the OLD binary.
	dir "$(p "$UPGRADE_DIR")" 0700 "$SVC_UID:$SVC_GID"
	BACKUP=$UPGRADE_DIR/pre-upgrade-$(date -u +%Y%m%dT%H%M%SZ)-$OLD_VERSION.vbak
	say "  backup: $BACKUP"
	reason=""
	if ! as_service backup create --out "$BACKUP" >"$WORK/backup" 2>&1; then
		reason="backup create: $(tail -n 1 "$WORK/backup")"
	elif ! as_service backup verify "$BACKUP" >"$WORK/verify" 2>&1; then
		reason="backup verify: $(tail -n 1 "$WORK/verify")"
	fi
	if [ -n "$reason" ]; then
		[ -z "$WAS_ACTIVE" ] || systemctl start "$UNIT" || true
		die "the pre-upgrade backup failed ($reason); nothing was changed${WAS_ACTIVE:+, $UNIT is running again}"
	fi
	say "  backup verified"

	# 3. Swap: the old binary stays as vecto.prev, the units as they were in $OPT/rollback.
	bin=$(p "$BIN")
	rollback_dir=$(p "$OPT/rollback")
	rm -rf "$rollback_dir"
	dir "$rollback_dir" 0755 0:0
	for f in "$UNIT" "$UNIT.d/pkcs11.conf" "$UNIT.d/low-port.conf"; do
		[ -f "$(p "$UNIT_DIR/$f")" ] || continue
		mkdir -p "$rollback_dir/$(dirname "$f")"
		cp -p "$(p "$UNIT_DIR/$f")" "$rollback_dir/$f"
	done
	cp "$BUNDLE/bin/vecto" "$bin.new"
	chown 0:0 "$bin.new"
	chmod 0755 "$bin.new"
	ln -f "$bin" "$bin.prev"
	mv -f "$bin.new" "$bin"
	say "  installed the new binary (previous one: $BIN.prev)"
	install_tree systemd
	install_tree docs
	install_tree installer
	install_units
	[ -z "$SYSTEMD" ] || systemctl daemon-reload

	# 4. Start (migrations run at start) and health check.
	if start_and_check; then
		prune_upgrade_backups
		say ""
		say "Upgraded vecto $OLD_VERSION -> $NEW_VERSION. Pre-upgrade backup: $BACKUP"
		[ -n "$USE_SYSTEMD" ] || skip "starting $UNIT (it was not running${NO_START:+, --no-start}); the new binary passed a trial start"
		return 0
	fi
	rollback "the new version did not become ready ($NOT_READY): $(service_log | tail -n 1)"
}

# Starts the installed binary (systemd, or a trial run) and waits for readiness.
start_and_check() {
	if [ -n "$USE_SYSTEMD" ]; then
		systemctl reset-failed "$UNIT" 2>/dev/null || true
		systemctl start "$UNIT" || true
		wait_ready
	else
		trial_start
		status=0
		wait_ready || status=1
		[ "$status" -eq 0 ] || cp "$TRIAL_LOG" "$WORK/failed.log"
		trial_stop
		[ "$status" -eq 0 ] && TRIAL_LOG=""
		return "$status"
	fi
}

rollback() {
	reason=$1
	say "  $reason"
	say "  rolling back to $OLD_VERSION"
	[ -z "$USE_SYSTEMD" ] || systemctl stop "$UNIT" || true
	bin=$(p "$BIN")
	ln -f "$bin" "$bin.failed"
	mv -f "$bin.prev" "$bin"
	rollback_dir=$(p "$OPT/rollback")
	rm -f "$(p "$DROPIN_DIR/low-port.conf")" "$(p "$DROPIN_DIR/pkcs11.conf")"
	(cd "$rollback_dir" && find . -type f) | while IFS= read -r f; do
		mkdirs "$(dirname "$(p "$UNIT_DIR/$f")")"
		cp -p "$rollback_dir/$f" "$(p "$UNIT_DIR/$f")"
	done
	[ -z "$SYSTEMD" ] || systemctl daemon-reload
	if ! as_service backup restore "$BACKUP" --yes >"$WORK/restore" 2>&1; then
		die "upgrade to $NEW_VERSION failed ($reason) and restoring $BACKUP failed too ($(tail -n 1 "$WORK/restore")); $OLD_VERSION is back at $BIN, the service is stopped: see docs/install.md, \"Manual rollback\""
	fi
	say "  restored $BACKUP"
	TRIAL_LOG=""
	start_and_check || die "upgrade to $NEW_VERSION failed ($reason); rolled back to $OLD_VERSION and restored $BACKUP, but $OLD_VERSION did not become ready either: see docs/install.md, \"Manual rollback\""
	outcome="passed a trial start"
	[ -z "$USE_SYSTEMD" ] || outcome="is running and ready"
	die "upgrade to $NEW_VERSION failed ($reason); rolled back to $OLD_VERSION, restored the pre-upgrade backup $BACKUP, and $OLD_VERSION $outcome; the failed binary is $BIN.failed"
}

prune_upgrade_backups() {
	# Names sort by time (pre-upgrade-<UTC stamp>-<version>.vbak): keep the newest few.
	find "$(p "$UPGRADE_DIR")" -maxdepth 1 -name 'pre-upgrade-*.vbak' | sort -r |
		awk -v keep="$KEEP_UPGRADE_BACKUPS" 'NR > keep' | while IFS= read -r old; do rm -f "$old"; done
}

cmd_uninstall() {
	if [ -n "$PURGE" ] && [ -z "$YES" ]; then
		die "--purge deletes $ETC (with the master key) and $STATE (the data and its backups) for good: add --yes to confirm"
	fi
	if [ -n "$SYSTEMD" ]; then
		systemctl disable --now --quiet "$UNIT" 2>/dev/null || true
		say "  stopped and disabled $UNIT"
	elif have systemctl && [ -f "$(p "$UNIT_DIR/$UNIT")" ]; then
		systemctl --root="${ROOT:-/}" disable "$UNIT" >/dev/null 2>&1 || true
	fi
	rm -f "$(p "$UNIT_DIR/$UNIT")" "$(p "$DROPIN_DIR/pkcs11.conf")" "$(p "$DROPIN_DIR/low-port.conf")"
	if [ -d "$(p "$DROPIN_DIR")" ]; then
		rmdir "$(p "$DROPIN_DIR")" 2>/dev/null || say "  kept $DROPIN_DIR: it holds your own drop-ins"
	fi
	[ -z "$SYSTEMD" ] || systemctl daemon-reload
	rm -rf "$(p "$OPT")" "$(p "$CACHE")"
	say "  removed $OPT, $CACHE and the unit"
	if [ -z "$PURGE" ]; then
		say "Kept $ETC (configuration, master key) and $STATE (data, backups): \"$PROG install\" picks them up again; --purge --yes deletes them"
		return 0
	fi
	rm -rf "$(p "$ETC")" "$(p "$STATE")"
	opt=""
	[ -z "$ROOT" ] || opt="--root $ROOT"
	if user_exists; then
		# shellcheck disable=SC2086
		userdel $opt "$SVC" 2>/dev/null || say "  could not remove user $SVC (userdel failed)"
	fi
	if [ -n "$(svc_id group)" ]; then
		# shellcheck disable=SC2086
		groupdel $opt "$SVC" 2>/dev/null || true
	fi
	say "Purged $ETC, $STATE and the user $SVC"
}

cmd_status() {
	bin=$(p "$BIN")
	if [ ! -f "$bin" ]; then
		say "vecto: not installed${ROOT:+ in $ROOT}"
		exit 1
	fi
	say "vecto: $(installed_version) at $BIN"
	[ ! -f "$bin.prev" ] || say "previous: $("$bin.prev" version 2>/dev/null | awk '{ print $2 }') at $BIN.prev (rollback: docs/install.md)"
	[ ! -f "$bin.failed" ] || say "failed upgrade: $BIN.failed"
	say "config: $ENV_FILE; key resolver $(key_resolver); listen $(listen_addr)"
	if [ -f "$(p "$STATE/vecto.db")" ]; then say "data: $STATE"; else say "data: $STATE (not initialised)"; fi
	n=$(find "$(p "$UPGRADE_DIR")" -maxdepth 1 -name 'pre-upgrade-*.vbak' 2>/dev/null | wc -l)
	say "pre-upgrade backups: $n in $UPGRADE_DIR"
	if [ -z "$SYSTEMD" ]; then
		say "service: not managed here (systemd is not running${ROOT:+, or --root})"
		return 0
	fi
	say "service: $(systemctl is-active "$UNIT" 2>/dev/null || true), $(systemctl is-enabled "$UNIT" 2>/dev/null || true)"
	status=0
	probe_ready || status=$?
	case $status in
	0) say "readyz: ready" ;;
	2) say "readyz: not checked (no curl or openssl)" ;;
	*) say "readyz: not ready" && exit 1 ;;
	esac
}

cmd_exec() {
	[ -f "$(p "$BIN")" ] || die "not installed: $BIN does not exist"
	user_exists || die "the service user $SVC does not exist"
	SVC_UID=$(svc_id passwd)
	SVC_GID=$(svc_id group)
	# In the background so that a signal to this script reaches vecto too and the credential
	# copies are removed when it ends (a plain exec would leave them behind).
	prepare_credentials
	exec_as_service "$@" &
	child=$!
	trap 'kill -TERM "$child" 2>/dev/null || true' INT TERM HUP
	status=0
	wait "$child" || status=$?
	while kill -0 "$child" 2>/dev/null; do
		status=0
		wait "$child" || status=$?
	done
	exit "$status"
}

case $COMMAND in
install) cmd_install ;;
upgrade) cmd_upgrade ;;
uninstall) cmd_uninstall ;;
status) cmd_status ;;
exec) cmd_exec "$@" ;;
verify) verify_bundle ;;
esac
