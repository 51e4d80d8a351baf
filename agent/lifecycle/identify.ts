// Who this node is, and where its address goes: IMDS identity turned into the target
// interface and private IP, validated against the flags.
import { readIdentity, readPublicIps } from '../adapters/identity.js';
import type { RunConfig } from '../cli/config.js';
import type { Target } from '../core/pool.js';
import { AgentError, InputError, errorMessage, isAgentError } from '../shared/errors.js';
import type { LiveProbe } from './live.js';
import type { Identity, ImdsPort } from '../shared/ports.js';
import { retrying } from '../shared/retry.js';

// IMDS is local and always there on EC2, but a host busy booting may answer slowly:
// failing to reach it for this long is a fault worth exiting on (systemd restarts us).
const IDENTITY_BUDGET_MS = 20_000;

export interface Me {
  target: Target;
  /** MAC of the target interface: IMDS keys its paths by it */
  mac: string;
  region: string;
  availabilityZone: string;
  nodeName: string;
}

export async function identify(imds: ImdsPort, config: RunConfig, signal: AbortSignal): Promise<Me> {
  const identity = await retrying(() => readIdentity(imds), { minMs: 200, maxMs: 2000, budgetMs: IDENTITY_BUDGET_MS, signal }).catch(
    (error: unknown) => {
      // A malformed answer is IMDS's, named by its path; a wrong endpoint hint would mislead.
      if (signal.aborted || isAgentError(error, 'bad-input')) throw error;
      throw new AgentError(
        'transient',
        'imds.unreachable',
        `IMDS at ${config.imdsEndpoint}: ${errorMessage(error)} (expected the instance metadata service, IMDSv2; set AWS_EC2_METADATA_SERVICE_ENDPOINT when not on EC2)`,
        { cause: error },
      );
    },
  );
  const { target, mac } = targetOf(identity, config);
  return {
    target,
    mac,
    region: config.region ?? identity.region,
    availabilityZone: identity.availabilityZone,
    nodeName: config.nodeName ?? identity.localHostname,
  };
}

export function targetOf(identity: Identity, config: RunConfig): { target: Target; mac: string } {
  const eni = identity.interfaces.find((i) => i.deviceIndex === config.deviceIndex);
  if (!eni) {
    const have = identity.interfaces.map((i) => i.deviceIndex).join(', ');
    throw new InputError('--device-index', `expected a device index of this instance's interfaces (${have}), got ${config.deviceIndex}`);
  }
  const privateIp = config.privateIp ?? eni.privateIps[0];
  if (!privateIp || !eni.privateIps.includes(privateIp)) {
    throw new InputError('--private-ip', `expected a private IPv4 of ${eni.networkInterfaceId} (${eni.privateIps.join(', ')}), got ${privateIp}`);
  }
  return { target: { instanceId: identity.instanceId, networkInterfaceId: eni.networkInterfaceId, privateIp }, mac: eni.mac };
}

/** --live-check imds: IMDS maps the public IP to our private IP on our interface. */
export function imdsProbe(imds: ImdsPort, mac: string, privateIp: string): LiveProbe {
  return async (publicIp) => (await readPublicIps(imds, mac)).get(publicIp) === privateIp;
}

/** Public IPs IMDS shows on one private IP of the interface (G2a looks at these). */
export async function publicIpsOn(imds: ImdsPort, mac: string, privateIp: string): Promise<string[]> {
  return [...(await readPublicIps(imds, mac))].filter(([, p]) => p === privateIp).map(([ip]) => ip);
}
