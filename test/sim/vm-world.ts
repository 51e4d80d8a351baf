// The simulated AWS for scripts/vm-boot-test.sh: one instance, a small pool, served on the
// host's loopback so that a QEMU guest with user-mode networking reaches it through the
// slirp gateway (10.0.2.2:PORT in the guest is 127.0.0.1:PORT on the host).
//
//   node .build/test/sim/vm-world.js --out FILE [--guest-host 10.0.2.2] [--pool 2] [--tag color=orange]
//
// Writes FILE.env (the guest's environment: IMDS, EC2 endpoint, kubeconfig path) and
// FILE.kubeconfig (the sim's API server as the guest sees it), then logs every change of
// the pool's associations with a host timestamp until SIGTERM/SIGINT, when it prints the
// final pool state and exits 0.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Sim, kubeconfigYaml } from './sim.js';
import type { Address } from './world.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    'guest-host': { type: 'string', default: '10.0.2.2' },
    pool: { type: 'string', default: '2' },
    tag: { type: 'string', default: 'color=orange' },
  },
});
const [tagKey, tagValue] = values.tag.split('=', 2);
const pool = Number(values.pool);
if (!values.out || !tagKey || tagValue === undefined || !Number.isInteger(pool) || pool < 1) {
  process.stderr.write('vm-world: usage: --out FILE [--guest-host HOST] [--pool N>=1] [--tag KEY=VALUE]\n');
  process.exit(2);
}

// Plain HTTP for the API server: the guest reaches it at the QEMU gateway address, which
// the simulator's certificate (127.0.0.1, localhost) does not name.
const sim = await Sim.start({ pool, tags: { [tagKey]: tagValue }, instances: 1, kube: { tls: false } });
const node = sim.nodes[0]!;
const guest = (url: string) => url.replace('//127.0.0.1:', `//${values['guest-host']}:`);
const stamp = () => new Date().toISOString();
const say = (text: string) => process.stdout.write(`${stamp()} vm-world: ${text}\n`);

const kubeconfig = kubeconfigYaml({ server: guest(sim.kube.url), token: node.kubeToken });
writeFileSync(`${values.out}.kubeconfig`, kubeconfig);
// Read by systemd's EnvironmentFile= in the guest: no quoting needed, no empty values.
const env = [
  `AWS_EC2_METADATA_SERVICE_ENDPOINT=${guest(node.imds.url)}/`,
  `AWS_ENDPOINT_URL_EC2=${guest(sim.ec2.url)}`,
  'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true',
  'KUBECONFIG=/etc/eip-agent/vm-test.kubeconfig',
  '',
].join('\n');
writeFileSync(`${values.out}.env`, env);

const describe = (a: Address) =>
  `${a.publicIp} (${a.allocationId}) ${a.association ? `associated to ${a.association.networkInterfaceId} ${a.association.privateIp} as ${a.association.associationId}` : 'free'}`;
say(`EC2 ${sim.ec2.url}, IMDS ${node.imds.url}, Kubernetes ${sim.kube.url} (guest: ${values['guest-host']})`);
say(`instance ${node.instance.instanceId}, node ${node.nodeName}, interface ${node.instance.enis[0]!.networkInterfaceId} ${node.instance.enis[0]!.privateIps[0]}`);
for (const a of sim.world.addresses.values()) say(`pool ${tagKey}=${tagValue}: ${describe(a)}`);
writeFileSync(`${values.out}.ready`, `${node.instance.instanceId}\n`);

// Association changes as the world sees them, with host time.
let last = new Map([...sim.world.addresses.values()].map((a) => [a.allocationId, a.association?.associationId]));
const watch = setInterval(() => {
  for (const a of sim.world.addresses.values()) {
    const was = last.get(a.allocationId);
    if (was !== a.association?.associationId) say(`change: ${describe(a)}${was && !a.association ? ` (was ${was})` : ''}`);
  }
  last = new Map([...sim.world.addresses.values()].map((a) => [a.allocationId, a.association?.associationId]));
}, 100);

const stop = async () => {
  clearInterval(watch);
  const calls = sim.ec2.calls.filter((c) => c.action).map((c) => `${c.action}:${c.outcome}`);
  say(`EC2 calls: ${calls.length} (${[...new Set(calls)].map((k) => `${k} x${calls.filter((c) => c === k).length}`).join(', ')})`);
  for (const a of sim.world.addresses.values()) say(`final: ${describe(a)}`);
  const held = [...sim.world.addresses.values()].filter((a) => a.association).length;
  say(`final: ${held} of ${sim.world.addresses.size} pool addresses associated`);
  await sim.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
