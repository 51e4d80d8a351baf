// The doctor's and the pool view's EC2 questions (shared/doctor-ports.ts): Describe* and
// DryRun only. Errors are typed by the one rule (ec2-errors.ts); a DryRun's two expected
// answers — DryRunOperation and an IAM refusal — are answers, not errors.
import { AssociateAddressCommand, DescribeInstancesCommand, DisassociateAddressCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { DryRunAnswer, Ec2Probe } from '../shared/doctor-ports.js';
import { AgentError, encodedAuthorization } from '../shared/errors.js';
import { createEc2Port } from './ec2.js';
import { classifyEc2Error } from './ec2-errors.js';


/** Reads EC2's Date header on the raw answer of every attempt, errors included. */
function dateHeaderReader(onReading: (sentAt: number, receivedAt: number, date: string | undefined) => void) {
  return <A, R>(next: (args: A) => Promise<R>) =>
    async (args: A): Promise<R> => {
      const sentAt = Date.now();
      const result = await next(args);
      const headers = (result as { response?: { headers?: Record<string, string> } }).response?.headers ?? {};
      onReading(sentAt, Date.now(), headers['date'] ?? headers['Date']);
      return result;
    };
}

async function dryRun(action: string, send: () => Promise<unknown>): Promise<DryRunAnswer> {
  try {
    await send();
  } catch (error) {
    // "Request would have succeeded, but DryRun flag is set" (HTTP 412).
    if ((error as { name?: unknown }).name === 'DryRunOperation') return { allowed: true };
    const typed = classifyEc2Error(action, error);
    if (!typed) throw error; // a bug
    if (typed.kind !== 'auth') throw typed;
    const encoded = encodedAuthorization(typed);
    return { allowed: false, code: typed.code, message: typed.message, ...(encoded ? { encoded } : {}) };
  }
  // EC2 never applies a DryRun: a success means something in the path ignored the flag.
  throw new AgentError('malformed', 'ec2.dry-run-applied', `EC2 ${action}: answered a DryRun with success instead of DryRunOperation`);
}

export function createEc2Probe(client: EC2Client): Ec2Probe {
  const port = createEc2Port({ client });
  type Reading = { sentAt: number; receivedAt: number; date: string | undefined };
  const last: { reading?: Reading } = {};
  const lastReading = (): Reading | undefined => last.reading;
  // Added once to the client: it sees every command's raw answer, below the deserializer.
  client.middlewareStack.add(dateHeaderReader((sentAt, receivedAt, date) => (last.reading = { sentAt, receivedAt, date })), {
    step: 'deserialize',
    name: 'eipAgentDateHeader',
    priority: 'low',
  });

  return {
    async listCarrying(tagKey) {
      delete last.reading;
      // Without a value the pool selector is EC2's `tag-key` filter: every value of the key.
      const addresses = await port.listPool({ tagKey });
      const seen = lastReading();
      const date = seen?.date ? Date.parse(seen.date) : NaN;
      const clock = seen && Number.isFinite(date)
        ? // The header counts whole seconds: EC2's time was within [date, date + 1 s).
          { skewMs: date + 500 - (seen.sentAt + seen.receivedAt) / 2, uncertaintyMs: (seen.receivedAt - seen.sentAt) / 2 + 500 }
        : undefined;
      return { addresses, clock };
    },

    dryRunAssociate(request) {
      return dryRun('AssociateAddress', () =>
        client.send(
          new AssociateAddressCommand({
            AllocationId: request.allocationId,
            NetworkInterfaceId: request.networkInterfaceId,
            PrivateIpAddress: request.privateIp,
            // G1, even in a dry run: the permission asked is the one the claim uses.
            AllowReassociation: false,
            DryRun: true,
          }),
        ),
      );
    },

    dryRunDisassociate(associationId) {
      return dryRun('DisassociateAddress', () => client.send(new DisassociateAddressCommand({ AssociationId: associationId, DryRun: true })));
    },

    async instanceNames(instanceIds) {
      const names = new Map<string, string>();
      // EC2 takes at most 200 values in one filter.
      for (let i = 0; i < instanceIds.length; i += 200) {
        // A filter, not InstanceIds: an instance that is gone is left out, not an error.
        const command = new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: instanceIds.slice(i, i + 200) }] });
        let output;
        try {
          output = await client.send(command);
        } catch (error) {
          throw classifyEc2Error('DescribeInstances', error) ?? error;
        }
        for (const instance of (output.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
          if (instance.InstanceId && instance.PrivateDnsName) names.set(instance.InstanceId, instance.PrivateDnsName);
        }
      }
      return names;
    },

    metadataOptions: (instanceId) => port.metadataOptions(instanceId),
  };
}
