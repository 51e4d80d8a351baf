// A whole simulated AWS account and region, with a Kubernetes API: one World, one EC2
// endpoint, one IMDS per instance. Used by the end-to-end tests, the demo and `npm run sim`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEc2, type Ec2Sim, type Ec2SimOptions } from './ec2.js';
import { startImds, type ImdsSim } from './imds.js';
import { startKube, type KubeSim } from './kube.js';
import { World, type Instance, type WorldOptions } from './world.js';

export interface SimOptions extends WorldOptions {
  /** pool addresses to allocate with `tags` */
  pool?: number;
  tags?: Record<string, string>;
  instances?: number;
  ec2?: Ec2SimOptions;
}

export interface SimNode {
  instance: Instance;
  imds: ImdsSim;
  /** node name in Kubernetes (IMDS local-hostname) */
  nodeName: string;
  /** a kubeconfig with a bearer token for this node */
  kubeconfig: string;
}

export class Sim {
  readonly nodes: SimNode[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'eip-sim-'));

  private constructor(
    readonly world: World,
    readonly ec2: Ec2Sim,
    readonly kube: KubeSim,
  ) {}

  static async start(options: SimOptions = {}): Promise<Sim> {
    const world = new World(options);
    world.addPool(options.pool ?? 0, options.tags ?? { color: 'orange' });
    const sim = new Sim(world, await startEc2(world, options.ec2), await startKube(world));
    for (let i = 0; i < (options.instances ?? 0); i++) await sim.addNode();
    return sim;
  }

  async addNode(options: Parameters<World['addInstance']>[0] = {}): Promise<SimNode> {
    const instance = this.world.addInstance(options);
    const imds = await startImds(this.world, instance.instanceId);
    const token = `node-token-${instance.instanceId}`;
    this.kube.addToken(token, `system:node:${instance.hostname}`, ['system:nodes']);
    const kubeconfig = join(this.dir, `${instance.instanceId}.kubeconfig`);
    writeFileSync(kubeconfig, kubeconfigYaml(this.kube.url, token));
    const node: SimNode = { instance, imds, nodeName: instance.hostname, kubeconfig };
    this.nodes.push(node);
    return node;
  }

  /**
   * The environment that points an agent (or the AWS CLI) at this simulated node. Ambient
   * AWS settings are blanked so that credentials come from the node's IMDS role.
   */
  env(node: SimNode): Record<string, string> {
    return {
      AWS_EC2_METADATA_SERVICE_ENDPOINT: node.imds.url,
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
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.ec2.close(), this.kube.close(), ...this.nodes.map((n) => n.imds.close())]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A kubeconfig that reaches `server` with a bearer token. */
export function kubeconfigYaml(server: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: sim',
    '  cluster:',
    `    server: ${server}`,
    'users:',
    '- name: node',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: sim',
    '  context: {cluster: sim, user: node}',
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
