// The production Ec2Port over @aws-sdk/client-ec2: our words in, SDK shapes and errors out
// at this edge. No retries here beyond the SDK's own: the core wraps calls in p-retry.
import {
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DisassociateAddressCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import type { Address, EC2ClientConfig, Filter } from '@aws-sdk/client-ec2';
import { AgentError } from '../shared/errors.js';
import type { AddressView, Ec2CallRecord, Ec2Port } from '../shared/ports.js';
import { attemptOutcome, classifyEc2Error } from './ec2-errors.js';

export interface Ec2ClientOptions {
  region: string;
  /**
   * SDK attempts per call, first one included. Default 1: the core's retry wrapper is the
   * one retry layer; SDK retries under it would multiply a fleet's throttled calls (3 × N).
   */
  maxAttempts?: number;
  /** ms to establish a TCP connection; default 3000 */
  connectionTimeoutMs?: number;
  /** ms from sending a request to its answer's headers; default 10000 */
  requestTimeoutMs?: number;
  /** default: the SDK's default chain (environment, …, instance profile through IMDS) */
  credentials?: EC2ClientConfig['credentials'];
  /** default: AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL, which the SDK reads itself, else AWS */
  endpoint?: string;
}

export function createEc2Client(options: Ec2ClientOptions): EC2Client {
  return new EC2Client({
    region: options.region,
    maxAttempts: options.maxAttempts ?? 1,
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? 3_000,
      requestTimeout: options.requestTimeoutMs ?? 10_000,
      // Without it the SDK only logs a warning and a hanging endpoint hangs the agent.
      throwOnRequestTimeout: true,
    },
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  });
}

export interface Ec2PortOptions {
  client: EC2Client;
  /** called once per HTTP attempt, the SDK's own retries included */
  onCall?: (record: Ec2CallRecord) => void;
}

/** EC2 filter values treat `*` and `?` as wildcards; `\` escapes them (G2: a tag value is literal). */
function literal(value: string): string {
  return value.replace(/[\\*?]/g, '\\$&');
}

function malformed(action: string, what: string): AgentError {
  return new AgentError('malformed', 'ec2.malformed', `EC2 ${action}: the answer lacks ${what}`);
}

// The SDK turns `<instanceId/>` into "": an empty field is an absent one, hence the
// truthiness tests below.
function toView(address: Address): AddressView {
  const { AllocationId: allocationId, PublicIp: publicIp } = address;
  if (!allocationId) throw malformed('DescribeAddresses', 'allocationId on an address');
  if (!publicIp) throw malformed('DescribeAddresses', `publicIp on address ${allocationId}`);
  const tags: Record<string, string> = {};
  for (const tag of address.Tags ?? []) {
    if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
  }
  return {
    allocationId,
    publicIp,
    ...(address.AssociationId ? { associationId: address.AssociationId } : {}),
    ...(address.NetworkInterfaceId ? { networkInterfaceId: address.NetworkInterfaceId } : {}),
    ...(address.PrivateIpAddress ? { privateIp: address.PrivateIpAddress } : {}),
    ...(address.InstanceId ? { instanceId: address.InstanceId } : {}),
    tags,
  };
}

export function createEc2Port({ client, onCall }: Ec2PortOptions): Ec2Port {
  // Sits in the deserialize step, below the SDK's retry middleware (finalizeRequest step)
  // and above its deserializer, so it sees every attempt with its parsed outcome.
  const recorder =
    (action: string) =>
    <A, R>(next: (args: A) => Promise<R>) =>
    async (args: A): Promise<R> => {
      try {
        const result = await next(args);
        onCall?.({ action, outcome: 'ok' });
        return result;
      } catch (error) {
        const kind = classifyEc2Error(action, error)?.kind;
        onCall?.({ action, outcome: attemptOutcome(error), ...(kind ? { kind } : {}) });
        throw error;
      }
    };
  const recordTo = { step: 'deserialize', name: 'eipAgentCallRecorder', priority: 'high' } as const;

  async function run<T>(action: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw classifyEc2Error(action, error) ?? error;
    }
  }

  async function describe(filters: Filter[]): Promise<AddressView[]> {
    const command = new DescribeAddressesCommand({
      Filters: filters.map((f) => ({ Name: f.Name, Values: f.Values?.map(literal) })),
    });
    command.middlewareStack.add(recorder('DescribeAddresses'), recordTo);
    const output = await run('DescribeAddresses', () => client.send(command));
    // A real answer always carries addressesSet, empty or not.
    if (!output.Addresses) throw malformed('DescribeAddresses', 'addressesSet');
    return output.Addresses.map(toView);
  }

  async function single(filters: Filter[]): Promise<AddressView | undefined> {
    const [first] = await describe(filters);
    return first;
  }

  return {
    listPool(pool) {
      return describe([
        pool.tagValue === undefined
          ? { Name: 'tag-key', Values: [pool.tagKey] }
          : { Name: `tag:${pool.tagKey}`, Values: [pool.tagValue] },
      ]);
    },

    // A filter, not AllocationIds: a released address is then "no such address", not an error.
    describeAllocation(allocationId) {
      return single([{ Name: 'allocation-id', Values: [allocationId] }]);
    },

    describePublicIp(publicIp) {
      return single([{ Name: 'public-ip', Values: [publicIp] }]);
    },

    async associate(request) {
      const command = new AssociateAddressCommand({
        AllocationId: request.allocationId,
        NetworkInterfaceId: request.networkInterfaceId,
        PrivateIpAddress: request.privateIp,
        // G1: never take an address from anyone; EC2's compare-and-swap.
        AllowReassociation: false,
      });
      command.middlewareStack.add(recorder('AssociateAddress'), recordTo);
      const output = await run('AssociateAddress', () => client.send(command));
      if (!output.AssociationId) throw malformed('AssociateAddress', 'associationId');
      return output.AssociationId;
    },

    async disassociate(associationId) {
      const command = new DisassociateAddressCommand({ AssociationId: associationId });
      command.middlewareStack.add(recorder('DisassociateAddress'), recordTo);
      await run('DisassociateAddress', () => client.send(command));
    },

    async metadataOptions(instanceId) {
      // A filter, not InstanceIds: an unknown instance is then "none", not an error.
      const command = new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: [literal(instanceId)] }] });
      command.middlewareStack.add(recorder('DescribeInstances'), recordTo);
      const output = await run('DescribeInstances', () => client.send(command));
      if (!output.Reservations) throw malformed('DescribeInstances', 'reservationSet');
      const instance = output.Reservations.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
      if (!instance) return undefined;
      const options = instance.MetadataOptions;
      return { httpTokens: options?.HttpTokens, hopLimit: options?.HttpPutResponseHopLimit };
    },
  };
}
