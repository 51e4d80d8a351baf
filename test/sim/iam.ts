// A small IAM policy evaluator for the simulated EC2 endpoint, so that the shipped
// scripts/iam-policy.json is enforced rather than only read. It covers what that policy
// uses and refuses (throws on) anything else, so that a policy change the simulator cannot
// judge fails loudly instead of being silently allowed:
// - Allow and Deny statements with Action and Resource (a string or a list; `*` and `?`
//   wildcards; actions match case-insensitively, ARNs case-sensitively);
// - Condition operators StringEquals, StringNotEquals and Null on `aws:ResourceTag/KEY`
//   (and its EC2 alias `ec2:ResourceTag/KEY`), judged against the tags of the resource
//   being authorized. Several keys in one operator, and several operators, must all hold;
//   several values for one key are OR'ed.
// Evaluation as IAM does it for one principal: a request is allowed only when every
// resource it touches is allowed by some statement and denied by none; everything not
// allowed is denied (implicit deny).
import type { Ec2Sim } from './ec2.js';
import type { Params } from './ec2-query.js';
import { ACCOUNT_ID } from './world.js';
import type { World } from './world.js';

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | boolean | (string | boolean)[]>>;
}

export interface PolicyDocument {
  Version?: string;
  Statement: Statement | Statement[];
}

/** One resource a request touches, with what conditions can ask of it. */
export interface ResourceContext {
  arn: string;
  tags: Readonly<Record<string, string>>;
}

export interface Decision {
  /** `ec2:AssociateAddress` */
  action: string;
  caller: string | undefined;
  allowed: boolean;
  /** the resources checked; the first one refused, when one was */
  resources: ResourceContext[];
  deniedBy?: { arn: string; reason: 'explicit-deny' | 'no-allow' };
}

const SUPPORTED_STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Action', 'Resource', 'Condition']);
const OPERATORS = new Set(['StringEquals', 'StringNotEquals', 'Null']);
const TAG_KEY = /^(?:aws|ec2):ResourceTag\/(.+)$/;

function list<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

function wildcard(pattern: string, flags = ''): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, flags);
}

/** Parses and checks a policy document; throws on anything the evaluator would misjudge. */
export function parsePolicy(document: unknown): Statement[] {
  const doc = document as PolicyDocument;
  if (typeof doc !== 'object' || doc === null || doc.Statement === undefined) throw new Error('iam: expected a policy document with Statement');
  const statements = list(doc.Statement);
  statements.forEach((s, i) => {
    const where = `iam: Statement[${i}]${s.Sid ? ` (${s.Sid})` : ''}`;
    for (const key of Object.keys(s)) {
      if (!SUPPORTED_STATEMENT_KEYS.has(key)) throw new Error(`${where}: ${key} is not supported by the simulator`);
    }
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new Error(`${where}: Effect must be Allow or Deny`);
    if (s.Action === undefined || s.Resource === undefined) throw new Error(`${where}: Action and Resource are required`);
    for (const [operator, keys] of Object.entries(s.Condition ?? {})) {
      if (!OPERATORS.has(operator)) throw new Error(`${where}: condition operator ${operator} is not supported by the simulator`);
      for (const key of Object.keys(keys)) {
        if (!TAG_KEY.test(key)) throw new Error(`${where}: condition key ${key} is not supported by the simulator`);
      }
    }
  });
  return statements;
}

function conditionsHold(condition: Statement['Condition'], resource: ResourceContext): boolean {
  for (const [operator, keys] of Object.entries(condition ?? {})) {
    for (const [key, expected] of Object.entries(keys)) {
      const tagKey = TAG_KEY.exec(key)![1]!;
      const present = Object.hasOwn(resource.tags, tagKey);
      const actual = present ? resource.tags[tagKey]! : undefined;
      const values = list(expected).map(String);
      let holds: boolean;
      if (operator === 'Null') {
        // "true": the key must be absent; "false": present.
        holds = values.some((v) => (v === 'true' ? !present : present));
      } else if (operator === 'StringEquals') {
        holds = actual !== undefined && values.includes(actual);
      } else {
        // StringNotEquals: true as well when the key is absent, as in IAM.
        holds = actual === undefined || !values.includes(actual);
      }
      if (!holds) return false;
    }
  }
  return true;
}

function matches(statement: Statement, action: string, resource: ResourceContext): boolean {
  return (
    list(statement.Action).some((a) => wildcard(a, 'i').test(action)) &&
    list(statement.Resource).some((r) => wildcard(r).test(resource.arn)) &&
    conditionsHold(statement.Condition, resource)
  );
}

/** IAM's answer for one action on a set of resources: all must be allowed, none denied. */
export function authorize(statements: readonly Statement[], action: string, resources: ResourceContext[], caller?: string): Decision {
  for (const resource of resources) {
    const applicable = statements.filter((s) => matches(s, action, resource));
    if (applicable.some((s) => s.Effect === 'Deny')) {
      return { action, caller, allowed: false, resources, deniedBy: { arn: resource.arn, reason: 'explicit-deny' } };
    }
    if (!applicable.some((s) => s.Effect === 'Allow')) {
      return { action, caller, allowed: false, resources, deniedBy: { arn: resource.arn, reason: 'no-allow' } };
    }
  }
  return { action, caller, allowed: true, resources };
}

function arn(world: World, type: string, id: string): string {
  return `arn:aws:ec2:${world.region}:${ACCOUNT_ID}:${type}/${id}`;
}

/**
 * The resources an EC2 call touches, as the Service Authorization Reference lists them
 * (AWS-NOTES, IAM). undefined: the call names something that does not exist, so IAM has
 * nothing to judge it on and EC2's own answer (a NotFound) comes back, as it does in AWS.
 */
export function resourcesOf(world: World, action: string, params: Params): ResourceContext[] | undefined {
  const value = (name: string) => (params[name] === '' ? undefined : params[name]);
  const eniContext = (eniId: string): ResourceContext[] | undefined => {
    const eni = world.findEni(eniId);
    if (!eni) return undefined;
    const interfaceContext = { arn: arn(world, 'network-interface', eni.networkInterfaceId), tags: {} };
    // The instance the interface is attached to is checked too (AssociateAddress only).
    return action === 'AssociateAddress' && eni.instanceId
      ? [interfaceContext, { arn: arn(world, 'instance', eni.instanceId), tags: {} }]
      : [interfaceContext];
  };
  switch (action) {
    case 'AssociateAddress': {
      const allocationId = value('AllocationId');
      const address = allocationId ? world.addresses.get(allocationId) : undefined;
      if (!address) return undefined;
      const eip = { arn: arn(world, 'elastic-ip', address.allocationId), tags: { ...address.tags } };
      const eniId = value('NetworkInterfaceId');
      if (eniId) {
        const rest = eniContext(eniId);
        return rest ? [eip, ...rest] : undefined;
      }
      const instance = value('InstanceId') ? world.instances.get(value('InstanceId')!) : undefined;
      if (!instance) return undefined;
      return [eip, { arn: arn(world, 'instance', instance.instanceId), tags: {} }, ...(eniContext(instance.enis[0]!.networkInterfaceId) ?? []).slice(0, 1)];
    }
    case 'DisassociateAddress': {
      const associationId = value('AssociationId');
      const address = [...world.addresses.values()].find((a) => associationId !== undefined && a.association?.associationId === associationId);
      if (!address?.association) return undefined;
      return [{ arn: arn(world, 'elastic-ip', address.allocationId), tags: { ...address.tags } }, ...(eniContext(address.association.networkInterfaceId) ?? [])];
    }
    default:
      // Describe* cannot be scoped to resources: they authorize against `*`.
      return [{ arn: '*', tags: {} }];
  }
}

export interface Enforcement {
  /** every decision taken, in order */
  readonly decisions: Decision[];
  denied(): Decision[];
  /** stop enforcing (the sim's deny hook is removed) */
  off(): void;
}

/**
 * Makes the simulated EC2 endpoint enforce `policy` on every caller for which `applies`
 * is true (default: every caller, instance roles and static keys alike). A denied call is
 * answered 403 UnauthorizedOperation and changes nothing.
 */
export function enforcePolicy(ec2: Ec2Sim, world: World, policy: unknown, applies: (caller: string | undefined) => boolean = () => true): Enforcement {
  const statements = parsePolicy(policy);
  const decisions: Decision[] = [];
  const previous = ec2.faults.deny;
  ec2.faults.deny = (action, params, caller) => {
    if (previous?.(action, params, caller)) return true;
    if (!applies(caller)) return false;
    const resources = resourcesOf(world, action, params);
    if (!resources) return false;
    const decision = authorize(statements, `ec2:${action}`, resources, caller);
    decisions.push(decision);
    return !decision.allowed;
  };
  return {
    decisions,
    denied: () => decisions.filter((d) => !d.allowed),
    off: () => {
      ec2.faults.deny = previous;
    },
  };
}
