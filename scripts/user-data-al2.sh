#!/usr/bin/env bash
# EKS AL2 user_data: places eip-agent, installs its unit and the kubelet gate, holds the
# boot until the address is live, then joins the cluster.
#
# AL2's glibc (2.26) is too old for the self-contained dist/eip-agent (Node 22 needs
# 2.28), so this places the dist/eip-agent.cjs bundle and a Node.js runtime built for
# glibc 2.17 (unofficial-builds.nodejs.org, "linux-x64-glibc-217").
set -euo pipefail

CLUSTER_NAME="my-cluster"
# Where you published dist/eip-agent.cjs (s3:// needs s3:GetObject in the node role).
EIP_AGENT_URL="s3://my-bucket/eip-agent/0.1.0/eip-agent.cjs"
# Any Node.js >= 20.18.1 listed at https://unofficial-builds.nodejs.org/download/release/
NODE_VERSION="v22.23.0"
NODE_URL="https://unofficial-builds.nodejs.org/download/release/$NODE_VERSION/node-$NODE_VERSION-linux-x64-glibc-217.tar.xz"

download() {
  case "$1" in
    s3://*) aws s3 cp --only-show-errors "$1" "$2" ;;
    *) curl -fsSL --retry 5 --retry-connrefused -o "$2" "$1" ;;
  esac
}

mkdir -p /opt/node
download "$NODE_URL" /tmp/node.tar.xz
tar -xJf /tmp/node.tar.xz -C /opt/node --strip-components=1
rm -f /tmp/node.tar.xz
# The bundle starts with `#!/usr/bin/env node`; /usr/local/bin is on systemd's PATH.
ln -sf /opt/node/bin/node /usr/local/bin/node

download "$EIP_AGENT_URL" /usr/local/bin/eip-agent.download
chmod 0755 /usr/local/bin/eip-agent.download
mv /usr/local/bin/eip-agent.download /usr/local/bin/eip-agent

# Every `eip-agent run` flag can be given here; install writes them to /etc/eip-agent/env.
/usr/local/bin/eip-agent install --tag-key color --tag-value orange
/usr/local/bin/eip-agent wait --timeout 600

# Kubelet starts here; the drop-in makes it wait on the gate again.
/etc/eks/bootstrap.sh "$CLUSTER_NAME" --kubelet-extra-args '--node-labels=eip-pool=orange'
