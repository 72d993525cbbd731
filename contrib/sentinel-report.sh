#!/bin/sh
# sentinel-report.sh: a VPN Sentinel reporter in POSIX sh, for devices the `sentinel` binary
# cannot run on (OpenWrt, armv7 routers, ...). It speaks report protocol v1 (docs/protocol.md):
# asks IP echo providers what the world sees, asks who resolves DNS for it, and sends one signed
# report. Run it from cron or with --loop. Needs: sh, openssl, curl or wget; nslookup for DNS.
#
# Configuration (environment):
#   SENTINEL_TOKEN          the st1.... token from `sentinel clients add NAME` (carries URL, id, secret)
#   or SENTINEL_SERVER, SENTINEL_ID, SENTINEL_SECRET instead of a token
#   SENTINEL_TOKEN_FILE     read the token from this file instead (keeps it out of the environment of ps)
#   SENTINEL_IP4_PROVIDERS  space-separated IPv4 echo URLs (default: https://api.ipify.org https://ipv4.icanhazip.com)
#   SENTINEL_IP6_PROVIDERS  space-separated IPv6 echo URLs (default: none, no IPv6 part is sent)
#   SENTINEL_DNS_PROBE      "who is my resolver" name, A record (default whoami.akamai.net; "off" disables)
#   SENTINEL_DNS_RESOLVER   ask this resolver instead of the system's; SENTINEL_DNS_PORT its port (default 53)
#   SENTINEL_INTERVAL       seconds between reports (default 60); the server uses it for its deadlines
#   SENTINEL_TIMEOUT        seconds per request (default 10)
#   SENTINEL_HTTP           curl or wget (default: curl when installed)
#
# Usage: sentinel-report.sh [--loop]     exit 0 when the server accepted the report (HTTP 202)
set -eu

VERSION="sh-1"
INTERVAL="${SENTINEL_INTERVAL:-60}"
TIMEOUT="${SENTINEL_TIMEOUT:-10}"
IP4_PROVIDERS="${SENTINEL_IP4_PROVIDERS:-https://api.ipify.org https://ipv4.icanhazip.com}"
IP6_PROVIDERS="${SENTINEL_IP6_PROVIDERS:-}"
DNS_PROBE="${SENTINEL_DNS_PROBE:-whoami.akamai.net}"

die() {
  echo "sentinel-report: $*" >&2
  exit 2
}

command -v openssl >/dev/null 2>&1 || die "openssl is required (opkg install openssl-util)"
HTTP="${SENTINEL_HTTP:-}"
if [ -z "$HTTP" ]; then
  if command -v curl >/dev/null 2>&1; then HTTP=curl
  elif command -v wget >/dev/null 2>&1; then HTTP=wget
  else die "curl or wget is required"
  fi
fi
case "$HTTP" in curl | wget) command -v "$HTTP" >/dev/null 2>&1 || die "$HTTP is not installed" ;; *) die "SENTINEL_HTTP must be curl or wget" ;; esac

# --- credentials: the token is "st1." + base64url(JSON {"u":server,"c":id,"s":secret}) ---
json_field() { # json_field KEY JSON: the string value of a flat JSON object's key
  printf '%s' "$2" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"
}

token="${SENTINEL_TOKEN:-}"
if [ -z "$token" ] && [ -n "${SENTINEL_TOKEN_FILE:-}" ]; then
  token=$(tr -d ' \n\r' <"$SENTINEL_TOKEN_FILE") || die "cannot read $SENTINEL_TOKEN_FILE"
fi
if [ -n "$token" ]; then
  case "$token" in st1.*) ;; *) die "the token does not start with st1.; copy it again from sentinel clients add" ;; esac
  b64=$(printf '%s' "${token#st1.}" | tr '_-' '/+')
  # base64url drops the padding; openssl wants it back
  case $((${#b64} % 4)) in 2) b64="$b64==" ;; 3) b64="$b64=" ;; esac
  payload=$(printf '%s\n' "$b64" | openssl base64 -d -A 2>/dev/null) || die "the token is damaged"
  SERVER="${SENTINEL_SERVER:-$(json_field u "$payload")}"
  ID=$(json_field c "$payload")
  SECRET=$(json_field s "$payload")
  if [ -z "$ID" ] || [ -z "$SECRET" ]; then die "the token is damaged (not base64url JSON); copy it again from sentinel clients add"; fi
else
  SERVER="${SENTINEL_SERVER:-}"
  ID="${SENTINEL_ID:-}"
  SECRET="${SENTINEL_SECRET:-}"
fi
if [ -z "$SERVER" ] || [ -z "$ID" ] || [ -z "$SECRET" ]; then
  die "set SENTINEL_TOKEN (or SENTINEL_SERVER, SENTINEL_ID and SENTINEL_SECRET)"
fi
SERVER="${SERVER%/}"

# --- HTTP ---
http_get() { # http_get URL: the body on stdout, non-zero on any failure
  if [ "$HTTP" = curl ]; then curl -fsS --max-time "$TIMEOUT" -A "vpn-sentinel/$VERSION" "$1"
  else wget -q -T "$TIMEOUT" -U "vpn-sentinel/$VERSION" -O - "$1"
  fi
}

clean() { # keeps error text JSON-safe and short
  printf '%s' "$1" | tr -c 'A-Za-z0-9 .:_/()-' ' ' | cut -c1-200
}

# --- public address per family: answers, then the strict-majority consensus ---
probe_family() { # probe_family 4|6 "URLS": prints the JSON object of one family
  fam=$1
  answers=""
  seen=""
  for url in $2; do
    if out=$(http_get "$url" 2>&1); then
      ip=$(printf '%s' "$out" | tr -d ' \r\n' | cut -c1-64)
      case "$fam:$ip" in
        4:*.*.*.*) ok=1 ;;
        6:*:*) ok=1 ;;
        *) ok=0 ;;
      esac
    else ok=0; ip=""
    fi
    if [ "$ok" = 1 ]; then
      entry="{\"provider\":\"$url\",\"ip\":\"$ip\",\"latency_ms\":null,\"error\":null}"
      seen="$seen$ip
"
    else
      entry="{\"provider\":\"$url\",\"ip\":null,\"latency_ms\":null,\"error\":\"$(clean "${out:-not an IPv$fam address}")\"}"
    fi
    answers="${answers:+$answers,}$entry"
  done
  total=$(printf '%s' "$seen" | grep -c . || true)
  distinct=$(printf '%s' "$seen" | grep . | sort -u | grep -c . || true)
  top=$(printf '%s' "$seen" | grep . | sort | uniq -c | sort -rn | head -n 1)
  top_n=$(printf '%s' "$top" | awk '{print $1}')
  top_ip=$(printf '%s' "$top" | awk '{print $2}')
  consistent=true
  [ "${distinct:-0}" -gt 1 ] && consistent=false
  ipjson=null
  if [ "${total:-0}" -gt 0 ] && [ $((top_n * 2)) -gt "$total" ]; then ipjson="\"$top_ip\""; fi
  printf '{"ip":%s,"consistent":%s,"answers":[%s]}' "$ipjson" "$consistent" "$answers"
}

# --- DNS: which resolver the world sees asking (its answer is the asker's address) ---
probe_dns() {
  [ "$DNS_PROBE" = off ] && return 0
  command -v nslookup >/dev/null 2>&1 || return 0
  if [ -n "${SENTINEL_DNS_RESOLVER:-}" ]; then
    out=$(nslookup -port="${SENTINEL_DNS_PORT:-53}" -timeout="$TIMEOUT" "$DNS_PROBE" "$SENTINEL_DNS_RESOLVER" 2>&1) || true
  else
    out=$(nslookup "$DNS_PROBE" 2>&1) || true
  fi
  via=$(printf '%s\n' "$out" | sed -n 's/^Server:[[:space:]]*//p' | head -n 1 | tr -d ' ')
  addrs=$(printf '%s\n' "$out" | sed -n '/^Name:/,$s/^Address:[[:space:]]*\([0-9a-fA-F.:]*\).*/\1/p')
  list=""
  for a in $addrs; do list="${list:+$list,}\"$a\""; done
  viajson=null
  [ -n "$via" ] && viajson="\"$(clean "$via")\""
  if [ -n "$list" ]; then err=null; else err="\"$(clean "no answer: $(printf '%s' "$out" | tail -n 2)")\""; fi
  printf '{"probe":"%s","type":"A","via":%s,"answers":[%s],"latency_ms":null,"error":%s}' "$DNS_PROBE" "$viajson" "$list" "$err"
}

report_once() {
  ipv4=$(probe_family 4 "$IP4_PROVIDERS")
  ipv6=""
  [ -n "$IP6_PROVIDERS" ] && ipv6=",\"ipv6\":$(probe_family 6 "$IP6_PROVIDERS")"
  dns=$(probe_dns)
  os=$(uname -s | tr '[:upper:]' '[:lower:]')
  agent="{\"version\":\"$VERSION\",\"os\":\"$(clean "$os")\",\"arch\":\"$(clean "$(uname -m)")\",\"hostname\":\"$(clean "$(uname -n)")\"}"
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  body="{\"v\":1,\"agent\":$agent,\"observed_at\":\"$now\",\"interval_s\":$INTERVAL,\"ipv4\":$ipv4$ipv6,\"dns\":[${dns}],\"errors\":[]}"

  ts=$(date +%s)
  nonce=$(openssl rand -hex 16)
  sig=$(printf '%s' "$ID.$ts.$nonce.$body" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.*= //')
  if [ "$HTTP" = curl ]; then
    answer=$(curl -sS --max-time "$TIMEOUT" -o - -w '\n%{http_code}' -X POST "$SERVER/api/v1/reports" \
      -H 'Content-Type: application/json' -H "Sentinel-Client: $ID" -H "Sentinel-Timestamp: $ts" \
      -H "Sentinel-Nonce: $nonce" -H "Sentinel-Signature: v1=$sig" --data-binary "$body") || answer="
000"
    status=$(printf '%s' "$answer" | tail -n 1)
    text=$(printf '%s' "$answer" | sed '$d')
  else
    headers=$(mktemp)
    text=$(wget -q -S -T "$TIMEOUT" -O - --header 'Content-Type: application/json' --header "Sentinel-Client: $ID" \
      --header "Sentinel-Timestamp: $ts" --header "Sentinel-Nonce: $nonce" --header "Sentinel-Signature: v1=$sig" \
      --post-data "$body" "$SERVER/api/v1/reports" 2>"$headers") || true
    status=$(sed -n 's/^ *HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$headers" | tail -n 1)
    rm -f "$headers"
  fi
  echo "HTTP ${status:-000} $text"
  [ "${status:-000}" = 202 ]
}

if [ "${1:-}" = "--loop" ]; then
  while :; do
    report_once || echo "sentinel-report: not accepted; trying again in ${INTERVAL}s" >&2
    sleep "$INTERVAL"
  done
fi
report_once
