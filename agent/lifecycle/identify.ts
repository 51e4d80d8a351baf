// Who this node is, and where its address goes: IMDS identity turned into the target
// interface and private IP, checked against the flags.
import { AgentError, InputError, errorMessage, isAgentError } from '../shared/errors.js';
import { IMDS_RETRY } from '../shared/pacing.js';
import type { Identity, ImdsPort, Target } from '../shared/ports.js';
import { retrying } from '../shared/retry.js';
import type { Timing } from '../shared/time.js';

// IMDS is local and always there on EC2, but a host busy booting may answer slowly:
// failing to reach it for this long is a fault worth exiting on (systemd restarts us).
const IDENTITY_BUDGET_MS = 20_000;

export interface IdentifyOptions {
  deviceIndex: number;
  privateIp: string | undefined;
  /** undefined: IMDS's */
  region: string | undefined;
  /** where `region` came from; `--region`/`EIP_AGENT_REGION` must match the instance (regionRule) */
  regionInput?: string | undefined;
  /** undefined: IMDS local-hostname */
  nodeName: string | undefined;
  /** for the message when IMDS cannot be reached */
  imdsEndpoint: string;
}

export interface Me {
  target: Target;
  region: string;
  availabilityZone: string;
  nodeName: string;
  /** AWS_REGION named another region and was ignored: the daemon warns (`region.mismatch`) */
  regionMismatch?: string;
}

export async function identify(imds: ImdsPort, timing: Timing, options: IdentifyOptions, signal: AbortSignal, budgetMs = IDENTITY_BUDGET_MS): Promise<Me> {
  // A refusal (403 with IMDS turned off, an answer we do not know) is paced within the budget too.
  const policy = { ...IMDS_RETRY, attempts: Infinity, capMs: 2000, budgetMs, refused: { baseMs: 1000, capMs: 4000 } };
  let identity: Identity;
  try {
    identity = await retrying(() => imds.identity(signal), { policy, timing, signal });
  } catch (error) {
    // A malformed answer names its path; a hint about the endpoint would mislead there.
    if (!isAgentError(error, 'transient', 'throttled', 'auth', 'rejected', 'not-found')) throw error;
    throw new AgentError(
      'transient',
      'imds.unreachable',
      `IMDS at ${options.imdsEndpoint}: ${errorMessage(error)} (expected the instance metadata service, IMDSv2; set AWS_EC2_METADATA_SERVICE_ENDPOINT when not on EC2)`,
      { cause: error },
    );
  }
  const region = regionRule(identity.region, options);
  return {
    target: targetOf(identity, options),
    region: region.region,
    availabilityZone: identity.availabilityZone,
    nodeName: options.nodeName ?? identity.localHostname,
    ...(region.mismatch ? { regionMismatch: region.mismatch } : {}),
  };
}

/**
 * Which region the claim goes to. An Elastic IP can be associated only with an interface in
 * its own region, so a claim sent elsewhere can never succeed — and where that region has a
 * pool under the same tag too, it would meet `InvalidNetworkInterfaceID.NotFound` forever.
 * The instance's own region (IMDS) wins. AWS_REGION / AWS_DEFAULT_REGION are the whole
 * host's setting, often left over from another tool: differing, they are ignored with a
 * warning. `--region` / `EIP_AGENT_REGION` were given to this agent: differing, they are bad
 * input (README, "Region").
 */
export function regionRule(instanceRegion: string, options: Pick<IdentifyOptions, 'region' | 'regionInput'>): { region: string; mismatch?: string } {
  const asked = options.region;
  if (asked === undefined || asked === instanceRegion) return { region: instanceRegion };
  const input = options.regionInput ?? '--region';
  if (input.startsWith('--') || input.startsWith('EIP_AGENT_')) {
    throw new InputError(input, `expected this instance's region ${instanceRegion} (IMDS placement/region): an Elastic IP can be associated only in its own region, got ${asked}`);
  }
  return { region: instanceRegion, mismatch: `${input}=${asked} ignored: this instance runs in ${instanceRegion} (IMDS), and an Elastic IP can be associated only in its own region` };
}

export function targetOf(identity: Identity, options: Pick<IdentifyOptions, 'deviceIndex' | 'privateIp'>): Target {
  const eni = identity.interfaces.find((i) => i.deviceIndex === options.deviceIndex);
  if (!eni) {
    const have = identity.interfaces.map((i) => i.deviceIndex).join(', ');
    throw new InputError('--device-index', `expected a device index of this instance's interfaces (${have}), got ${options.deviceIndex}`);
  }
  const privateIp = options.privateIp ?? eni.privateIps[0];
  if (!privateIp || !eni.privateIps.includes(privateIp)) {
    throw new InputError('--private-ip', `expected a private IPv4 of ${eni.networkInterfaceId} (${eni.privateIps.join(', ')}), got ${privateIp}`);
  }
  return { instanceId: identity.instanceId, networkInterfaceId: eni.networkInterfaceId, privateIp, mac: eni.mac };
}
