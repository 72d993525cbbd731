#!/bin/sh
# VPN Sentinel installer: installs the `sentinel` binary, a system user, config and the systemd
# units for the server or the client, and upgrades or removes them again.
#
#   install.sh server|client [options]      (run as root; see --help)
#
# Environment:
#   SENTINEL_RELEASE_URL  base of the release downloads, laid out like GitHub releases
#                         (BASE/latest/download/FILE, BASE/download/vVERSION/FILE)
#   SENTINEL_ARCH         use this instead of `uname -m` (x86_64, aarch64, armv7l, ... or x64,
#                         x64-baseline, arm64 directly); SENTINEL_CPUINFO replaces /proc/cpuinfo
#   SENTINEL_SERVER, SENTINEL_TOKEN   defaults for --server and --token (keeps the token out of ps)
#
# --root DIR installs into a staging root (an image being built, or tests): no account is
# created and no ownership is changed there; the sysusers.d entry it writes creates the
# vpn-sentinel user when that root boots. Units are enabled with the same symlinks
# `systemctl enable` would make, and systemctl is never called.
set -eu

PROG=install.sh
DEFAULT_RELEASE_URL=https://github.com/vpn-sentinel/vpn-sentinel/releases
SERVICE_USER=vpn-sentinel
CONF_DIR=/etc/vpn-sentinel
DATA_DIR=/var/lib/vpn-sentinel
UNIT_DIR=/etc/systemd/system
SYSUSERS_FILE=/etc/sysusers.d/vpn-sentinel.conf

role=""
version=""
binary=""
prefix=/usr/local
root=""
netns=""
server_url=""
token=""
uninstall=0
purge=0
dry_run=0
workdir=""

usage() {
  cat <<'EOF'
usage: install.sh server|client [options]

  --version V        release to download (default: the latest)
  --binary PATH      install this sentinel binary instead of downloading one
  --prefix DIR       install the binary as DIR/bin/sentinel (default /usr/local)
  --root DIR         install into the staging root DIR (no accounts, no systemctl)
  --netns NAME       client: run in network namespace NAME (vpn-sentinel-client@NAME)
  --server URL       client: the server's URL          } written to the env file on
  --token T          client: the token from            } first install only
                     `sentinel clients add`
  --uninstall        remove the units (and the binary when no role is left); keeps data
  --purge            with --uninstall: also remove config, data and the user
  --dry-run          print what would be done, change nothing
  -h, --help         this text
EOF
}

say() { printf '%s\n' "$*"; }
note() { printf 'note: %s\n' "$*"; }
die() {
  printf '%s: %s\n' "$PROG" "$*" >&2
  exit 1
}
usage_error() {
  printf '%s: %s (see --help)\n' "$PROG" "$*" >&2
  exit 2
}

cleanup() { if [ -n "$workdir" ]; then rm -rf "$workdir"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# step MESSAGE COMMAND [ARG...]: runs COMMAND and reports MESSAGE, or only prints it with --dry-run.
step() {
  step_msg=$1
  shift
  if [ "$dry_run" = 1 ]; then
    say "would: $step_msg"
    return 0
  fi
  "$@" || die "failed: $step_msg"
  say "  $step_msg"
}

need_value() {
  if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "$1 needs a value"; fi
}

parse_args() {
  [ $# -gt 0 ] || {
    usage >&2
    exit 2
  }
  case $1 in
    server | client) role=$1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) usage_error "first argument must be server or client, not '$1'" ;;
  esac
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      --version) need_value "$@"; version=${2#v}; shift ;;
      --binary) need_value "$@"; binary=$2; shift ;;
      --prefix) need_value "$@"; prefix=$2; shift ;;
      --root) need_value "$@"; root=$2; shift ;;
      --netns) need_value "$@"; netns=$2; shift ;;
      --server) need_value "$@"; server_url=$2; shift ;;
      --token) need_value "$@"; token=$2; shift ;;
      --uninstall) uninstall=1 ;;
      --purge) purge=1 ;;
      --dry-run) dry_run=1 ;;
      -h | --help)
        usage
        exit 0
        ;;
      *) usage_error "unknown option '$1'" ;;
    esac
    shift
  done

  case $prefix in /*) ;; *) usage_error "--prefix must be an absolute path" ;; esac
  prefix=${prefix%/}
  if [ -n "$root" ]; then
    case $root in /*) ;; *) root=$(pwd)/$root ;; esac
    root=${root%/}
  fi
  if [ "$purge" = 1 ] && [ "$uninstall" = 0 ]; then usage_error "--purge only goes with --uninstall"; fi
  if [ -n "$binary" ] && [ -n "$version" ]; then usage_error "--binary and --version exclude each other"; fi
  if [ "$role" = server ]; then
    [ -z "$netns" ] || usage_error "--netns is for the client"
    [ -z "$server_url$token" ] || usage_error "--server and --token are for the client"
  fi
  if [ -n "$netns" ]; then
    case $netns in
      *[!A-Za-z0-9_.-]* | .* ) usage_error "--netns: '$netns' is not a namespace name" ;;
    esac
  fi
  if [ "$role" = client ] && [ "$uninstall" = 0 ]; then
    # The token bundles the server URL, so --server alone is useless; --token alone is fine.
    server_url=${server_url:-${SENTINEL_SERVER:-}}
    token=${token:-${SENTINEL_TOKEN:-}}
    if [ -n "$server_url" ] && [ -z "$token" ]; then usage_error "--server needs --token"; fi
    case $server_url in *[[:space:]\"\'\\]*) usage_error "--server: the URL must not contain spaces or quotes" ;; esac
    case $token in *[[:space:]\"\'\\]*) usage_error "--token: the token must not contain spaces or quotes" ;; esac
  fi
}

# ---------------------------------------------------------------------------------------------
# Architecture

detect_arch() {
  machine=${SENTINEL_ARCH:-$(uname -m)}
  case $machine in
    x64 | x64-baseline | arm64) arch=$machine ;;
    x86_64 | amd64)
      # The default x64 build uses AVX2; older CPUs (and some Atom/Celeron boxes) need baseline.
      if grep -qw avx2 "${SENTINEL_CPUINFO:-/proc/cpuinfo}" 2>/dev/null; then arch=x64; else arch=x64-baseline; fi
      ;;
    aarch64 | armv8*) arch=arm64 ;;
    armv6* | armv7* | armhf | armel | arm)
      cat >&2 <<EOF
$PROG: this is a 32-bit ARM CPU ($machine); the sentinel binary needs x86_64 or aarch64
(Bun, which it is built on, has no 32-bit ARM build).
Use the shell reporter instead: contrib/sentinel-report.sh speaks the same report protocol with
curl (or wget) and openssl, e.g. from cron. See docs/operations.md. A Raspberry Pi 3/4/5 can run
sentinel itself with a 64-bit OS.
EOF
      exit 3
      ;;
    *) die "unsupported architecture '$machine' (sentinel runs on x86_64 and aarch64 Linux)" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Download and verification

release_base() {
  base=${SENTINEL_RELEASE_URL:-$DEFAULT_RELEASE_URL}
  base=${base%/}
  if [ -n "$version" ]; then say "$base/download/v$version"; else say "$base/latest/download"; fi
}

fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 2 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    die "neither curl nor wget is installed; install one, or pass --binary"
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  else
    die "no sha256sum, shasum or openssl to verify the download"
  fi
}

# verify FILE NAME SUMS: FILE's digest must be the one SUMS lists for NAME.
verify() {
  expected=$(awk -v f="$2" '$2 == f || $2 == "*" f { print $1; exit }' "$3")
  [ -n "$expected" ] || die "$3 does not list $2"
  actual=$(sha256_of "$1")
  [ "$expected" = "$actual" ] || die "checksum mismatch for $2: expected $expected, got $actual"
}

# Sets $source to a verified binary to install.
obtain_binary() {
  if [ -n "$binary" ]; then
    [ -f "$binary" ] || die "--binary: no such file: $binary"
    source=$binary
    sums=$(dirname "$binary")/SHA256SUMS
    if [ -f "$sums" ] && grep -q " \*\{0,1\}$(basename "$binary")\$" "$sums"; then
      verify "$binary" "$(basename "$binary")" "$sums"
      say "  verified $(basename "$binary") against $sums"
    fi
    return 0
  fi
  name=sentinel-linux-$arch
  url=$(release_base)
  if [ "$dry_run" = 1 ]; then
    say "would: download $url/$name and $url/SHA256SUMS and verify the checksum"
    source="$url/$name"
    return 0
  fi
  workdir=$(mktemp -d "${TMPDIR:-/tmp}/vpn-sentinel-install.XXXXXX")
  say "  downloading $url/$name"
  fetch "$url/SHA256SUMS" "$workdir/SHA256SUMS" || die "could not download $url/SHA256SUMS"
  fetch "$url/$name" "$workdir/$name" || die "could not download $url/$name"
  verify "$workdir/$name" "$name" "$workdir/SHA256SUMS"
  say "  verified $name against SHA256SUMS"
  source=$workdir/$name
}

# ---------------------------------------------------------------------------------------------
# File helpers (every path is on the target system; $root is prepended here)

# put_file SOURCE DEST MODE: atomic replace (a running binary keeps its old inode).
put_file() {
  cp "$1" "$root$2.new" && chmod "$3" "$root$2.new" && mv -f "$root$2.new" "$root$2"
}

# write_generated DEST MODE GENERATOR: writes GENERATOR's output atomically.
write_generated() {
  "$3" >"$root$1.new" && chmod "$2" "$root$1.new" && mv -f "$root$1.new" "$root$1"
}

make_link() { mkdir -p "$(dirname "$2")" && ln -sf "$1" "$2"; }

make_dir() { mkdir -p "$root$1" && chmod "$2" "$root$1"; }

# ensure_dir DIR MODE OWNER: creates DIR, or keeps it (and what is in it) with MODE and OWNER.
ensure_dir() {
  if [ -d "$root$1" ]; then
    if [ "$dry_run" = 0 ]; then chmod "$2" "$root$1"; fi
    say "  $1 kept"
  else
    step "create $1 ($2$([ -z "$root" ] && say ", $3"))" make_dir "$1" "$2"
  fi
  own "$3" "$1"
}

# own OWNER:GROUP PATH: only for real installs; a staging root keeps the installer's ownership.
own() {
  if [ -z "$root" ] && [ "$dry_run" = 0 ]; then chown "$1" "$2" || die "chown $1 $2 failed"; fi
}

same_content() { [ -f "$root$2" ] && "$1" | cmp -s - "$root$2"; }

systemd_live() { [ -z "$root" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

# ---------------------------------------------------------------------------------------------
# Generated files

sysusers_conf() {
  say "# VPN Sentinel service account (installed by install.sh)"
  say "u $SERVICE_USER - \"VPN Sentinel\" $DATA_DIR /usr/sbin/nologin"
}

server_env() {
  cat <<'EOF'
# VPN Sentinel server settings, read by vpn-sentinel-server.service.
# Any option of `sentinel server --help` can be set as SENTINEL_<OPTION>; this file is never
# overwritten by install.sh. Keep it 0640 root:vpn-sentinel: it may hold secrets.
SENTINEL_LISTEN=0.0.0.0:8088
# The URL clients use to reach this server (printed in the tokens of `sentinel clients add`):
#SENTINEL_PUBLIC_URL=http://sentinel.home.arpa:8088
#SENTINEL_LOG_LEVEL=info
#SENTINEL_LOG_FORMAT=json
EOF
}

client_env_shared() {
  cat <<'EOF'
# VPN Sentinel client settings, read by vpn-sentinel-client.service (and, before each
# namespace's own client-NAME.env, by vpn-sentinel-client@NAME.service).
# Any option of `sentinel client --help` can be set as SENTINEL_<OPTION>; this file is never
# overwritten by install.sh. Keep it 0640 root:vpn-sentinel: the token is a secret.
EOF
}

client_env_token() {
  if [ -n "$server_url" ]; then say "SENTINEL_SERVER=$server_url"; else say "#SENTINEL_SERVER=http://sentinel.home.arpa:8088"; fi
  if [ -n "$token" ]; then say "SENTINEL_TOKEN=$token"; else say "#SENTINEL_TOKEN=st1.... (from \`sentinel clients add NAME\` on the server)"; fi
}

client_env() {
  client_env_shared
  if [ -z "$netns" ]; then client_env_token; fi
}

client_netns_env() {
  say "# VPN Sentinel client in network namespace $netns (vpn-sentinel-client@$netns.service)."
  client_env_token
}

# The units, rewritten for --prefix. They are copies of systemd/*.service in the repository
# (test/install.test.ts checks that they match; scripts/sync-install-units.ts refreshes them).
unit_for_prefix() { sed "s|/usr/local/bin/sentinel|$prefix/bin/sentinel|" ; }
server_unit() { unit_vpn_sentinel_server | unit_for_prefix; }
client_unit() { unit_vpn_sentinel_client | unit_for_prefix; }
client_template_unit() { unit_vpn_sentinel_client_at | unit_for_prefix; }

# BEGIN UNITS (generated by scripts/sync-install-units.ts from systemd/; do not edit here)
unit_vpn_sentinel_client() {
  cat <<'UNIT'
[Unit]
Description=VPN Sentinel client (reports what the world sees through this host's VPN)
Documentation=https://github.com/vpn-sentinel/vpn-sentinel/blob/main/docs/operations.md
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
NotifyAccess=main
ExecStart=/usr/local/bin/sentinel client
# Reports that cannot be sent yet are spooled here; relative paths resolve against it too.
Environment=SENTINEL_SPOOL_DIR=/var/lib/vpn-sentinel/client
WorkingDirectory=/var/lib/vpn-sentinel/client
# SENTINEL_SERVER and SENTINEL_TOKEN (written by install.sh; the token is a secret).
EnvironmentFile=/etc/vpn-sentinel/client.env
User=vpn-sentinel
Group=vpn-sentinel
WatchdogSec=60s
TimeoutStartSec=60s
TimeoutStopSec=15s
Restart=on-failure
RestartSec=5s

StateDirectory=vpn-sentinel/client
StateDirectoryMode=0750
ConfigurationDirectory=vpn-sentinel
ConfigurationDirectoryMode=0750
UMask=0077

NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateUsers=yes
PrivateIPC=yes
ProtectHostname=yes
ProtectClock=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
KeyringMode=private
DevicePolicy=closed
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
UNIT
}
unit_vpn_sentinel_client_at() {
  cat <<'UNIT'
[Unit]
Description=VPN Sentinel client in network namespace %i
Documentation=https://github.com/vpn-sentinel/vpn-sentinel/blob/main/docs/operations.md
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
NotifyAccess=main
ExecStart=/usr/local/bin/sentinel client
# Probe from inside the VPN's namespace (created by e.g. `ip netns add %i`), and resolve names
# through the namespace's resolver like `ip netns exec` would, so DNS leak checks see what
# applications in the namespace see. Without /etc/netns/%i/resolv.conf (the "-": optional) the
# host's resolv.conf stays, as under `ip netns exec`; install.sh says so.
NetworkNamespacePath=/run/netns/%i
BindReadOnlyPaths=-/etc/netns/%i/resolv.conf:/etc/resolv.conf
Environment=SENTINEL_SPOOL_DIR=/var/lib/vpn-sentinel/client-%i
WorkingDirectory=/var/lib/vpn-sentinel/client-%i
# Shared settings, then this namespace's own SENTINEL_SERVER/SENTINEL_TOKEN (each namespace is
# a separate client with its own token).
EnvironmentFile=/etc/vpn-sentinel/client.env
EnvironmentFile=-/etc/vpn-sentinel/client-%i.env
User=vpn-sentinel
Group=vpn-sentinel
WatchdogSec=60s
TimeoutStartSec=60s
TimeoutStopSec=15s
Restart=on-failure
RestartSec=5s

StateDirectory=vpn-sentinel/client-%i
StateDirectoryMode=0750
ConfigurationDirectory=vpn-sentinel
ConfigurationDirectoryMode=0750
UMask=0077

NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateUsers=yes
PrivateIPC=yes
ProtectHostname=yes
ProtectClock=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
KeyringMode=private
DevicePolicy=closed
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
UNIT
}
unit_vpn_sentinel_server() {
  cat <<'UNIT'
[Unit]
Description=VPN Sentinel server (judges client reports, alerts, dashboard)
Documentation=https://github.com/vpn-sentinel/vpn-sentinel/blob/main/docs/operations.md
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
NotifyAccess=main
ExecStart=/usr/local/bin/sentinel server
# The listen address (default 0.0.0.0:8088, unprivileged) and the other options come from server.env.
Environment=SENTINEL_DATA_DIR=/var/lib/vpn-sentinel
# The garbage collector's pace (docs/operations.md, "Memory"): size its heuristics as for 1 GiB
# of RAM, whatever the machine has, and collect young objects after every 8 MiB allocated, not
# after an allowance that grows with the heap. server.env may override either.
Environment=BUN_JSC_forceRAMSize=1073741824
Environment=BUN_JSC_gcMaxHeapSize=8388608
WorkingDirectory=/var/lib/vpn-sentinel
EnvironmentFile=/etc/vpn-sentinel/server.env
User=vpn-sentinel
Group=vpn-sentinel
WatchdogSec=30s
TimeoutStartSec=60s
TimeoutStopSec=15s
Restart=on-failure
RestartSec=5s

StateDirectory=vpn-sentinel
StateDirectoryMode=0750
ConfigurationDirectory=vpn-sentinel
ConfigurationDirectoryMode=0750
UMask=0077

NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateUsers=yes
PrivateIPC=yes
ProtectHostname=yes
ProtectClock=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
KeyringMode=private
DevicePolicy=closed
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
UNIT
}
# END UNITS

# ---------------------------------------------------------------------------------------------
# Install

ensure_user() {
  if ! same_content sysusers_conf "$SYSUSERS_FILE"; then
    step "write $SYSUSERS_FILE" write_generated_in_dir "$SYSUSERS_FILE" 0644 sysusers_conf
  fi
  if [ -n "$root" ]; then
    note "--root: the $SERVICE_USER user is not created here; $SYSUSERS_FILE creates it when that system boots (systemd-sysusers)"
    return 0
  fi
  if id "$SERVICE_USER" >/dev/null 2>&1; then
    say "  user $SERVICE_USER exists"
    return 0
  fi
  if command -v systemd-sysusers >/dev/null 2>&1; then
    step "create system user $SERVICE_USER (systemd-sysusers)" systemd-sysusers "$SYSUSERS_FILE"
  elif command -v useradd >/dev/null 2>&1; then
    step "create system user $SERVICE_USER" useradd --system --user-group --home-dir "$DATA_DIR" \
      --no-create-home --shell /usr/sbin/nologin --comment "VPN Sentinel" "$SERVICE_USER"
  elif command -v adduser >/dev/null 2>&1; then
    step "create system user $SERVICE_USER (busybox adduser)" adduser -S -D -H -h "$DATA_DIR" -s /sbin/nologin "$SERVICE_USER"
  else
    die "cannot create user $SERVICE_USER: no systemd-sysusers, useradd or adduser"
  fi
}

write_generated_in_dir() {
  mkdir -p "$(dirname "$root$1")" && write_generated "$@"
}

install_binary() {
  dest=$prefix/bin/sentinel
  if [ -f "$root$dest" ] && [ "$dry_run" = 0 ] && cmp -s "$source" "$root$dest"; then
    say "  $dest is already this binary"
    return 0
  fi
  if [ -f "$root$dest" ]; then upgrading=1; fi
  verb=install
  if [ "$upgrading" = 1 ]; then verb=replace; fi
  step "$verb $dest (0755)" put_file "$source" "$dest" 0755
}

install_unit() { # install_unit NAME GENERATOR
  if same_content "$2" "$UNIT_DIR/$1"; then
    say "  $UNIT_DIR/$1 is up to date"
    return 0
  fi
  units_changed=1
  step "write $UNIT_DIR/$1" write_generated_in_dir "$UNIT_DIR/$1" 0644 "$2"
}

install_env() { # install_env FILE GENERATOR
  if [ -e "$root$1" ]; then
    say "  $1 kept as it is (never overwritten)"
    if [ -n "$token" ] && [ "$2" != server_env ]; then
      note "--server/--token were not written: edit $1 to change them"
    fi
    return 0
  fi
  step "create $1 (0640$([ -z "$root" ] && say ", root:$SERVICE_USER"))" write_generated "$1" 0640 "$2"
  own "root:$SERVICE_USER" "$1"
}

enable_unit() { # enable_unit INSTANCE [TEMPLATE]
  if systemd_live; then
    step "enable $1" systemctl enable --quiet "$1"
    return 0
  fi
  link=$UNIT_DIR/multi-user.target.wants/$1
  if [ -L "$root$link" ]; then
    say "  $1 is enabled"
    return 0
  fi
  step "enable $1 (symlink in multi-user.target.wants)" make_link "../${2:-$1}" "$root$link"
}

start_unit() {
  if ! systemd_live; then
    pending_start="$pending_start $1"
    return 0
  fi
  if [ "$upgrading" = 1 ] || [ "$units_changed" = 1 ] || systemctl is-active --quiet "$1"; then
    step "restart $1" systemctl restart "$1"
  else
    step "start $1" systemctl start "$1"
  fi
}

# The unit binds /etc/netns/NAME/resolv.conf over /etc/resolv.conf when it exists (like
# `ip netns exec` does); without it the client sees the host's resolver.
check_netns_resolver() {
  if [ ! -e "$root/etc/netns/$netns/resolv.conf" ]; then
    note "/etc/netns/$netns/resolv.conf does not exist, so the client asks the host's resolver (as \`ip netns exec $netns\` would); if the VPN has its own DNS server, write it there (nameserver ADDRESS) or the DNS check reports the host's resolver"
  fi
}

client_configured() {
  f=$CONF_DIR/client.env
  if [ -n "$netns" ]; then f=$CONF_DIR/client-$netns.env; fi
  [ "$dry_run" = 1 ] && [ -n "$token" ] && return 0
  grep -q '^SENTINEL_TOKEN=..*' "$root$f" 2>/dev/null
}

do_install() {
  detect_arch
  if [ -n "$root" ]; then where=" into $root"; else where=""; fi
  say "Installing the VPN Sentinel $role ($arch)$where$([ "$dry_run" = 1 ] && say ' (dry run: nothing is changed)')"
  obtain_binary
  upgrading=0
  units_changed=0
  pending_start=""
  [ -d "$root$prefix/bin" ] || step "create $prefix/bin" mkdir -p "$root$prefix/bin"
  install_binary
  ensure_user

  ensure_dir "$CONF_DIR" 0750 "root:$SERVICE_USER"
  ensure_dir "$DATA_DIR" 0750 "$SERVICE_USER:$SERVICE_USER"

  if [ "$role" = server ]; then
    install_env "$CONF_DIR/server.env" server_env
    install_unit vpn-sentinel-server.service server_unit
    unit=vpn-sentinel-server.service
  else
    install_env "$CONF_DIR/client.env" client_env
    if [ -n "$netns" ]; then install_env "$CONF_DIR/client-$netns.env" client_netns_env; fi
    install_unit vpn-sentinel-client.service client_unit
    install_unit vpn-sentinel-client@.service client_template_unit
    unit=vpn-sentinel-client.service
    if [ -n "$netns" ]; then
      unit=vpn-sentinel-client@$netns.service
      check_netns_resolver
    fi
  fi
  if systemd_live && [ "$units_changed" = 1 ]; then step "reload systemd" systemctl daemon-reload; fi
  if [ -n "$netns" ]; then enable_unit "$unit" vpn-sentinel-client@.service; else enable_unit "$unit"; fi

  if [ "$role" = server ] || client_configured; then start_unit "$unit"; fi

  say ""
  if [ "$dry_run" = 1 ]; then
    say "Dry run finished; nothing was changed."
    return 0
  fi
  if [ -x "$root$prefix/bin/sentinel" ] && [ -z "$root" ]; then
    say "Installed: $("$prefix/bin/sentinel" version 2>/dev/null || say "$prefix/bin/sentinel")"
  else
    say "Installed: $prefix/bin/sentinel"
  fi
  if [ -n "$pending_start" ]; then
    if [ -n "$root" ]; then
      say "Enabled in $root; it starts when that system boots:$pending_start"
    else
      note "systemd is not running here; start the service yourself or reboot into systemd:$pending_start"
    fi
  fi
  say ""
  say "Next step:"
  if [ "$role" = server ]; then
    say "  add a client (run as $SERVICE_USER so the database stays the service's):"
    say "    sudo -u $SERVICE_USER SENTINEL_DATA_DIR=$DATA_DIR $prefix/bin/sentinel clients add NAME"
    say "  then on the VPN host: install.sh client --server URL --token TOKEN"
    say "  dashboard and API: port 8088 (SENTINEL_LISTEN in $CONF_DIR/server.env)"
  elif client_configured; then
    say "  follow it:  journalctl -u $unit -f"
  else
    f=$CONF_DIR/client.env
    if [ -n "$netns" ]; then f=$CONF_DIR/client-$netns.env; fi
    say "  set SENTINEL_SERVER and SENTINEL_TOKEN in $f"
    say "  (the token comes from \`sentinel clients add NAME\` on the server), then:"
    say "    systemctl restart $unit"
  fi
}

# ---------------------------------------------------------------------------------------------
# Uninstall

# remove PATH...: deletes below $root, naming every file it deletes; a directory goes file by
# file, deepest first, and is named with a trailing slash.
remove() {
  for p in "$@"; do
    if [ -d "$root$p" ] && [ ! -L "$root$p" ]; then
      find "$root$p" -depth -print | while IFS= read -r f; do
        remove_one "${f#"$root"}"
      done || die "failed: remove $p"
    elif [ -e "$root$p" ] || [ -L "$root$p" ]; then
      remove_one "$p"
    fi
  done
}

remove_one() {
  if [ -d "$root$1" ] && [ ! -L "$root$1" ]; then
    step "remove $1/" rmdir "$root$1"
  else
    step "remove $1" rm -f "$root$1"
  fi
}

disable_unit() {
  if systemd_live; then
    if systemctl is-enabled --quiet "$1" 2>/dev/null || systemctl is-active --quiet "$1" 2>/dev/null; then
      step "stop and disable $1" systemctl disable --now --quiet "$1"
    fi
  else
    remove "$UNIT_DIR/multi-user.target.wants/$1"
  fi
}

client_instances() {
  for l in "$root$UNIT_DIR"/multi-user.target.wants/vpn-sentinel-client@*.service; do
    [ -L "$l" ] && basename "$l"
  done
  return 0
}

do_uninstall() {
  say "Removing the VPN Sentinel $role$([ -n "$root" ] && say " from $root")$([ "$dry_run" = 1 ] && say ' (dry run: nothing is changed)')"
  if [ "$role" = server ]; then
    disable_unit vpn-sentinel-server.service
    remove "$UNIT_DIR/vpn-sentinel-server.service"
    if [ "$purge" = 1 ]; then
      remove "$CONF_DIR/server.env"
      # Everything in the data dir but the clients' spools.
      for p in "$root$DATA_DIR"/* "$root$DATA_DIR"/.[!.]*; do
        case ${p##*/} in client | client-*) ;; *) [ -e "$p" ] && remove "${p#"$root"}" ;; esac
      done
    fi
  elif [ -n "$netns" ]; then
    disable_unit "vpn-sentinel-client@$netns.service"
    if [ "$purge" = 1 ]; then remove "$CONF_DIR/client-$netns.env" "$DATA_DIR/client-$netns"; fi
  else
    disable_unit vpn-sentinel-client.service
    for i in $(client_instances); do disable_unit "$i"; done
    remove "$UNIT_DIR/vpn-sentinel-client.service" "$UNIT_DIR/vpn-sentinel-client@.service"
    if [ "$purge" = 1 ]; then
      for p in "$root$CONF_DIR"/client.env "$root$CONF_DIR"/client-*.env "$root$DATA_DIR"/client "$root$DATA_DIR"/client-*; do
        [ -e "$p" ] && remove "${p#"$root"}"
      done
    fi
  fi
  if systemd_live; then step "reload systemd" systemctl daemon-reload; fi

  other_left=0
  for u in vpn-sentinel-server.service vpn-sentinel-client.service; do
    if [ -f "$root$UNIT_DIR/$u" ]; then other_left=1; fi
  done
  if [ -n "$netns" ]; then
    say "  only the instance for namespace $netns was removed; \`install.sh client --uninstall\` removes the client"
  elif [ "$other_left" = 1 ]; then
    say "  the other role is still installed: keeping $prefix/bin/sentinel and the $SERVICE_USER user"
  else
    remove "$prefix/bin/sentinel"
    if [ "$purge" = 1 ]; then
      remove "$CONF_DIR" "$DATA_DIR" "$SYSUSERS_FILE"
      if [ -z "$root" ] && id "$SERVICE_USER" >/dev/null 2>&1; then
        if command -v userdel >/dev/null 2>&1; then
          step "remove user $SERVICE_USER" userdel "$SERVICE_USER"
        elif command -v deluser >/dev/null 2>&1; then
          step "remove user $SERVICE_USER" deluser "$SERVICE_USER"
        fi
      fi
    fi
  fi
  say ""
  if [ "$dry_run" = 1 ]; then
    say "Dry run finished; nothing was changed."
  elif [ "$purge" = 1 ]; then
    say "Removed, including its configuration and data."
  else
    say "Removed. Configuration in $CONF_DIR and data in $DATA_DIR were kept (--purge removes them)."
  fi
}

main() {
  parse_args "$@"
  if [ -z "$root" ] && [ "$dry_run" = 0 ] && [ "$(id -u)" != 0 ]; then
    die "run as root (sudo sh install.sh ...), or use --root DIR or --dry-run"
  fi
  if [ "$uninstall" = 1 ]; then do_uninstall; else do_install; fi
}

main "$@"
