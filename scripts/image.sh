#!/usr/bin/env bash
# Builds the VPN Sentinel container images for linux/amd64 and linux/arm64 from the release
# binaries, as one multi-architecture image, and pushes it to any number of registries.
#
#   scripts/image.sh [--arch amd64,arm64] [--name NAME] [--tag TAG]... [--no-build]
#                    [--stage-only] [--push REPOSITORY]...
#
#   --arch LIST        architectures to build (default amd64,arm64)
#   --name NAME        local image name (default localhost/vpn-sentinel); the image for each
#                      architecture is NAME:TAG-ARCH, the multi-architecture list NAME:TAG
#   --tag TAG          tag to push (repeatable; default: the version in package.json). The
#                      first one names the local image.
#   --no-build         use dist/sentinel-linux-* as they are (default: `bun run build` them)
#   --stage-only       only prepare dist/image/<arch>/, e.g. for `docker buildx build`
#   --push REPOSITORY  push to REPOSITORY:TAG for every tag (repeatable), e.g.
#                      --push docker.io/me/vpn-sentinel --push ghcr.io/me/vpn-sentinel
#
# Log in first (`podman login REGISTRY`). Needs podman; for arm64 also qemu-user-static and
# the arm64 C runtime (dpkg --add-architecture arm64; apt-get install libc6:arm64).
#
# What goes into the image: the binary is a Bun executable linked against glibc, so the image
# carries exactly the files the dynamic loader lists for it (what `ldd` prints: libc, libm,
# libpthread, libdl and the loader itself), taken from this machine's Debian packages (libc6
# and libc6:arm64), plus passwd/group for the non-root user. That is ~3 MiB beside the binary;
# a debootstrap minbase would add ~80 MiB, a shell and dpkg/apt, which the image should not have.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

ARCHES=amd64,arm64
NAME=localhost/vpn-sentinel
TAGS=()
PUSH=()
BUILD=1
STAGE_ONLY=0
UID_GID=10001

die() {
  echo "image.sh: $*" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case $1 in
  --arch) ARCHES=${2:?--arch needs a value}; shift 2 ;;
  --name) NAME=${2:?--name needs a value}; shift 2 ;;
  --tag) TAGS+=("${2:?--tag needs a value}"); shift 2 ;;
  --push) PUSH+=("${2:?--push needs a repository}"); shift 2 ;;
  --no-build) BUILD=0; shift ;;
  --stage-only) STAGE_ONLY=1; shift ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument $1 (see --help)" ;;
  esac
done

VERSION=${SENTINEL_BUILD_VERSION:-$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' package.json | head -n 1)}
[ ${#TAGS[@]} -gt 0 ] || TAGS=("$VERSION")
REVISION=${SENTINEL_BUILD_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
# The commit time, not the build time, for the labels and every file in the layer: the same
# commit and binary give the same layer digest, so a rebuild uploads no new layer.
EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
CREATED=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)
LICENSES=$(sed -n 's/^ *"license": *"\([^"]*\)".*/\1/p' package.json | head -n 1)
LICENSES=${LICENSES:-NOASSERTION}

IFS=, read -r -a ARCH_LIST <<<"$ARCHES"
for arch in "${ARCH_LIST[@]}"; do
  case $arch in amd64 | arm64) ;; *) die "--arch: unknown architecture $arch (amd64, arm64)" ;; esac
done

# Per architecture: the bun build target, the binary, the loader path the ELF asks for, qemu.
bun_target() { case $1 in amd64) echo x64 ;; arm64) echo arm64 ;; esac; }
binary() { echo "dist/sentinel-linux-$(bun_target "$1")"; }
loader() { case $1 in amd64) echo /lib64/ld-linux-x86-64.so.2 ;; arm64) echo /lib/ld-linux-aarch64.so.1 ;; esac; }
host_arch() { case $(uname -m) in x86_64) echo amd64 ;; aarch64) echo arm64 ;; *) uname -m ;; esac; }
qemu_for() { case $1 in amd64) echo qemu-x86_64-static ;; arm64) echo qemu-aarch64-static ;; esac; }

if [ "$BUILD" = 1 ]; then
  targets=()
  for arch in "${ARCH_LIST[@]}"; do targets+=(--target "$(bun_target "$arch")"); done
  bun scripts/build.ts "${targets[@]}"
fi

# Prints the absolute paths of the shared objects the loader would map for $2 (ldd's list).
linked_files() {
  local arch=$1 bin=$2 ld
  ld=$(loader "$arch")
  [ -e "$ld" ] || die "$ld is missing: install the $arch C runtime (libc6${arch:+:$arch})"
  local list
  if [ "$arch" = "$(host_arch)" ]; then
    list=$("$ld" --list "$bin")
  else
    command -v "$(qemu_for "$arch")" >/dev/null || die "$(qemu_for "$arch") is missing (apt-get install qemu-user-static)"
    list=$("$(qemu_for "$arch")" "$ld" --list "$bin")
  fi
  if grep -q "not found" <<<"$list"; then die "$bin needs libraries this machine lacks:"$'\n'"$list"; fi
  # "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)", or the loader as "/lib64/ld-... (0x...)"
  awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }' <<<"$list"
}

stage() {
  local arch=$1 bin stagedir rootfs ld f
  bin=$(binary "$arch")
  [ -x "$bin" ] || die "$bin is missing: run bun run build (or leave out --no-build)"
  stagedir=dist/image/$arch
  rootfs=$stagedir/rootfs
  rm -rf "$stagedir"
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/tmp" "$stagedir/data"
  chmod 1777 "$rootfs/tmp"
  ln -f "$bin" "$rootfs/usr/local/bin/sentinel" 2>/dev/null || cp "$bin" "$rootfs/usr/local/bin/sentinel"
  ld=$(loader "$arch")
  # The loader goes where the ELF header points; the libraries where the loader found them.
  mkdir -p "$rootfs$(dirname "$ld")"
  cp -L "$ld" "$rootfs$ld"
  while read -r f; do
    [ "$(readlink -f "$f")" = "$(readlink -f "$ld")" ] && continue
    mkdir -p "$rootfs$(dirname "$f")"
    cp -L "$f" "$rootfs$f"
  done < <(linked_files "$arch" "$bin")
  printf 'root:x:0:0:root:/root:/sbin/nologin\nsentinel:x:%s:%s:VPN Sentinel:/data:/sbin/nologin\n' \
    "$UID_GID" "$UID_GID" >"$rootfs/etc/passwd"
  printf 'root:x:0:\nsentinel:x:%s:\n' "$UID_GID" >"$rootfs/etc/group"
  # /etc/hosts before DNS, like every distribution (compose service names, --add-host)
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
  echo "staged $stagedir: $(cd "$rootfs" && find . -type f | sed 's|^\.||' | sort | tr '\n' ' ')"
}

started=$SECONDS
for arch in "${ARCH_LIST[@]}"; do stage "$arch"; done
[ "$STAGE_ONLY" = 1 ] && exit 0

LOCAL=$NAME:${TAGS[0]}
for arch in "${ARCH_LIST[@]}"; do
  t0=$SECONDS
  podman build --layers=false --timestamp "$EPOCH" --platform "linux/$arch" --format docker \
    -f Containerfile -t "$LOCAL-$arch" \
    --build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" \
    --build-arg "CREATED=$CREATED" --build-arg "LICENSES=$LICENSES" .
  size=$(podman image inspect --format '{{.Size}}' "$LOCAL-$arch")
  printf 'built %s-%s: %s MiB in %ss\n' "$LOCAL" "$arch" "$(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1048576 }')" $((SECONDS - t0))
done

# For `podman run NAME:TAG` here: this machine's architecture (or the first one built).
LOCAL_ARCH=${ARCH_LIST[0]}
for arch in "${ARCH_LIST[@]}"; do [ "$arch" = "$(host_arch)" ] && LOCAL_ARCH=$arch; done
podman tag "$LOCAL-$LOCAL_ARCH" "$LOCAL"
echo "tagged $LOCAL ($LOCAL_ARCH)"

# The multi-architecture list, what `docker pull REPOSITORY:TAG` resolves on every machine,
# exists only while pushing: podman 4.3 cannot list images while a local manifest list exists.
if [ ${#PUSH[@]} -gt 0 ]; then
  LIST=$NAME-list:${TAGS[0]}
  podman manifest rm "$LIST" >/dev/null 2>&1 || true
  trap 'podman manifest rm "$LIST" >/dev/null 2>&1 || true' EXIT
  podman manifest create "$LIST" >/dev/null
  for arch in "${ARCH_LIST[@]}"; do podman manifest add "$LIST" "containers-storage:$LOCAL-$arch" >/dev/null; done
  for repo in "${PUSH[@]}"; do
    for tag in "${TAGS[@]}"; do
      t0=$SECONDS
      podman manifest push --all --format v2s2 "$LIST" "docker://$repo:$tag"
      echo "pushed $repo:$tag (${ARCH_LIST[*]}) in $((SECONDS - t0))s"
    done
  done
fi
echo "image.sh: done in $((SECONDS - started))s"
