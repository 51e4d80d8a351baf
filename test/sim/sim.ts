// A whole simulated AWS account and region, with a Kubernetes API: one World, one EC2
// endpoint, one IMDS per instance, one API server (HTTPS with its own CA unless told
// otherwise). Used by the end-to-end tests, the demo and `npm run sim`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEc2, type Ec2Sim, type Ec2SimOptions } from './ec2.js';
import { startImds, type ImdsSim } from './imds.js';
import { startKube, type KubeSim, type KubeSimOptions } from './kube.js';
import type { Json, NodeRegistration } from './kube-objects.js';
import { World, type Instance, type InstanceOptions, type WorldOptions } from './world.js';

/** A stand-in for `aws eks get-token`, run by kubeconfigs as their `exec` credential plugin. */
export const EXEC_PLUGIN = fileURLToPath(new URL('../../../test/fixtures/fake-exec-plugin.mjs', import.meta.url));

export interface SimOptions extends WorldOptions {
  /** pool addresses to allocate with `tags` */
  pool?: number;
  tags?: Record<string, string>;
  instances?: number;
  ec2?: Ec2SimOptions;
  kube?: KubeSimOptions;
  /**
   * Register every node's Node object as soon as its instance exists (default false: on a
   * real node kubelet registers only once the gate lets it start; tests call registerNode).
   */
  registerNodes?: boolean;
}

export interface SimNode {
  instance: Instance;
  imds: ImdsSim;
  /** node name in Kubernetes (IMDS local-hostname) */
  nodeName: string;
  /** this node's kubeconfig, as on EKS: the simulator's CA, a token from an `exec` plugin */
  kubeconfig: string;
  /** the token the exec plugin hands out (user system:node:NAME, group system:nodes) */
  kubeToken: string;
}

export interface AddNodeOptions extends InstanceOptions {
  /** register the Node at once (true, or with kubelet's --node-labels/--register-with-taints) */
  register?: boolean | NodeRegistration;
}

export class Sim {
  readonly nodes: SimNode[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'eip-sim-'));
  /** a kubeconfig for kubectl as cluster admin (system:masters), with the CA */
  readonly adminKubeconfig = join(this.dir, 'admin.kubeconfig');

  private constructor(
    readonly world: World,
    readonly ec2: Ec2Sim,
    readonly kube: KubeSim,
    private readonly registerNodes: boolean,
  ) {
    writeFileSync(this.adminKubeconfig, kubeconfigYaml({ server: kube.url, caPem: kube.caPem, token: kube.token }), { mode: 0o600 });
  }

  static async start(options: SimOptions = {}): Promise<Sim> {
    const world = new World(options);
    world.addPool(options.pool ?? 0, options.tags ?? { color: 'orange' });
    const sim = new Sim(world, await startEc2(world, options.ec2), await startKube(world, options.kube), options.registerNodes === true);
    for (let i = 0; i < (options.instances ?? 0); i++) await sim.addNode();
    return sim;
  }

  async addNode(options: AddNodeOptions = {}): Promise<SimNode> {
    const { register = this.registerNodes, ...instanceOptions } = options;
    const instance = this.world.addInstance(instanceOptions);
    const imds = await startImds(this.world, instance.instanceId);
    const kubeToken = `node-token-${instance.instanceId}`;
    this.kube.addToken(kubeToken, `system:node:${instance.hostname}`, ['system:nodes']);
    const kubeconfig = join(this.dir, `${instance.instanceId}.kubeconfig`);
    writeFileSync(
      kubeconfig,
      kubeconfigYaml({ server: this.kube.url, caPem: this.kube.caPem, exec: { command: process.execPath, args: [EXEC_PLUGIN], env: { FAKE_EXEC_TOKEN: kubeToken } } }),
      { mode: 0o600 },
    );
    const node: SimNode = { instance, imds, nodeName: instance.hostname, kubeconfig, kubeToken };
    this.nodes.push(node);
    if (register) this.registerNode(node, register === true ? {} : register);
    return node;
  }

  /** kubelet registers this node's Node object (see World.registerNode). */
  registerNode(node: SimNode, registration: NodeRegistration = {}): Json {
    return this.world.registerNode(node.instance.instanceId, registration);
  }

  /**
   * The environment that points an agent (or the AWS CLI) at this simulated node. Ambient
   * AWS settings are blanked so that credentials come from the node's IMDS role.
   */
  env(node: SimNode): Record<string, string> {
    return {
      // With a trailing slash: older botocore (Debian's AWS CLI) joins `latest/api/token`
      // to it without one. The agent and the JS SDK accept both.
      AWS_EC2_METADATA_SERVICE_ENDPOINT: `${node.imds.url}/`,
      AWS_ENDPOINT_URL_EC2: this.ec2.url,
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_SESSION_TOKEN: '',
      AWS_PROFILE: '',
      AWS_REGION: '',
      AWS_CONFIG_FILE: join(this.dir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(this.dir, 'no-aws-credentials'),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      KUBECONFIG: node.kubeconfig,
      // Each simulated instance is its own host: its own /run.
      EIP_AGENT_LOCK_FILE: join(this.dir, node.instance.instanceId, 'eip-agent.pid'),
      EIP_AGENT_CONTROL_SOCKET: join(this.dir, node.instance.instanceId, 'control.sock'),
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.ec2.close(), this.kube.close(), ...this.nodes.map((n) => n.imds.close())]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface KubeconfigSpec {
  server: string;
  /** PEM of the CA to trust (certificate-authority-data) */
  caPem?: string | undefined;
  token?: string;
  /** an exec credential plugin (client.authentication.k8s.io/v1beta1, which kubectl 1.20 knows too) */
  exec?: { command: string; args: string[]; env: Record<string, string> };
}

/** A kubeconfig reaching `server` with a bearer token or an exec plugin. */
export function kubeconfigYaml(spec: KubeconfigSpec): string {
  const user = spec.exec
    ? [
        '    exec:',
        '      apiVersion: client.authentication.k8s.io/v1beta1',
        `      command: ${JSON.stringify(spec.exec.command)}`,
        `      args: ${JSON.stringify(spec.exec.args)}`,
        `      env: ${JSON.stringify(Object.entries(spec.exec.env).map(([name, value]) => ({ name, value })))}`,
        '      interactiveMode: Never',
      ]
    : [`    token: ${spec.token ?? ''}`];
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: sim',
    '  cluster:',
    `    server: ${spec.server}`,
    ...(spec.caPem ? [`    certificate-authority-data: ${Buffer.from(spec.caPem).toString('base64')}`] : []),
    'users:',
    '- name: user',
    '  user:',
    ...user,
    'contexts:',
    '- name: sim',
    '  context: {cluster: sim, user: user}',
    'current-context: sim',
    '',
  ].join('\n');
}

/** A free TCP port on loopback, for an agent's health endpoint. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
