// `npm run sim -- [--pool N] [--tag KEY=VALUE] [--instances N] [--imds-lag MS]`: starts a
// simulated AWS on 127.0.0.1 and prints, per instance, what to export to point an agent
// (or the AWS CLI, or kubectl) at it. Every instance's Node is registered at once, as if
// its kubelet had started. Runs until Ctrl-C.
import { parseArgs } from 'node:util';
import { Sim } from './sim.js';

const { values } = parseArgs({
  options: {
    pool: { type: 'string', default: '4' },
    tag: { type: 'string', default: 'color=orange' },
    instances: { type: 'string', default: '2' },
    'imds-lag': { type: 'string', default: '0' },
  },
});
const [tagKey, tagValue] = values.tag.split('=', 2);
const numbers = { pool: Number(values.pool), instances: Number(values.instances), imdsLagMs: Number(values['imds-lag']) };
for (const [name, n] of Object.entries(numbers)) {
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`sim: --${name}: expected a whole number, got ${JSON.stringify(values[name as keyof typeof values])}\n`);
    process.exit(2);
  }
}
if (!tagKey || tagValue === undefined) {
  process.stderr.write(`sim: --tag: expected KEY=VALUE, got ${JSON.stringify(values.tag)}\n`);
  process.exit(2);
}

const sim = await Sim.start({ pool: numbers.pool, tags: { [tagKey]: tagValue }, instances: numbers.instances, imdsLagMs: numbers.imdsLagMs, registerNodes: true });
// Something for the drain wait to wait on: a workload pod and a DaemonSet pod per node.
for (const [i, node] of sim.nodes.entries()) {
  sim.world.addPod({ nodeName: node.nodeName, name: `web-${i + 1}`, ownerKind: 'ReplicaSet' });
  sim.world.addPod({ nodeName: node.nodeName, name: `kube-proxy-${i + 1}`, namespace: 'kube-system', ownerKind: 'DaemonSet' });
}
const credentials = sim.ec2.addStaticCredentials('operator');
process.stdout.write(`simulated AWS (${sim.world.region}): EC2 ${sim.ec2.url}, Kubernetes ${sim.kube.url}\n`);
process.stdout.write(`pool ${tagKey}=${tagValue}: ${[...sim.world.addresses.values()].map((a) => `${a.publicIp} (${a.allocationId})`).join(', ')}\n\n`);
for (const [i, node] of sim.nodes.entries()) {
  process.stdout.write(`# instance ${i + 1}: ${node.instance.instanceId}, node ${node.nodeName}\n`);
  for (const [k, v] of Object.entries(sim.env(node))) if (v) process.stdout.write(`export ${k}=${v}\n`);
  process.stdout.write(`node dist/eip-agent.cjs run --tag-key ${tagKey} --tag-value ${tagValue} --health-listen 127.0.0.1:${8100 + i}\n\n`);
}
process.stdout.write('# the AWS CLI, as an operator:\n');
process.stdout.write(`AWS_ACCESS_KEY_ID=${credentials.accessKeyId} AWS_SECRET_ACCESS_KEY=${credentials.secretAccessKey} aws --region ${sim.world.region} --endpoint-url ${sim.ec2.url} ec2 describe-addresses\n`);
process.stdout.write('\n# kubectl, as cluster admin (the kubeconfig carries the simulator\'s CA; the API server is HTTPS only):\n');
process.stdout.write(`export KUBECONFIG=${sim.adminKubeconfig}\n`);
process.stdout.write('kubectl get nodes -o wide; kubectl get pods -A; kubectl get events -A\n');
process.stdout.write('# or as a node (kubelet\'s identity through an exec credential plugin, as on EKS):\n');
process.stdout.write(`KUBECONFIG=${sim.nodes[0]?.kubeconfig ?? '(no instance)'} kubectl get pods -A --field-selector spec.nodeName=${sim.nodes[0]?.nodeName ?? 'NODE'}\n`);
process.stdout.write('\nCtrl-C stops the simulator.\n');

const stop = async () => {
  await sim.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
