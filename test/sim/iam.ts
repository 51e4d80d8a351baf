// A small IAM policy evaluator for the simulated EC2 endpoint, so that the shipped
// scripts/iam-policy.json is enforced rather than only read. It covers what that policy
// uses and refuses (throws on) anything else, so that a policy change the simulator cannot
// judge fails loudly instead of being silently allowed:
// - Allow and Deny statements with Action and Resource (a string or a list; `*` and `?`
//   wildcards; actions match case-insensitively, ARNs case-sensitively);
// - condition operators StringEquals, StringNotEquals, Null and ArnLike; several keys in
//   one operator, and several operators, must all hold; several values for one key are OR'ed;
// - condition keys: `aws:ResourceTag/KEY` (and its EC2 alias `ec2:ResourceTag/KEY`) against
//   the tags of the resource being authorized; `ec2:Vpc` (network-interface) and
//   `ec2:InstanceID` (instance), present only on the resource types the Service
//   Authorization Reference lists them for; `ec2:SourceInstanceARN` and
//   `aws:Ec2InstanceSourceVpc`, present only when an instance's role credentials signed the
//   request (never for static keys). Key names are case-insensitive, as in IAM;
// - policy variables `${key}` in String and ARN operator values, for the keys above that are
//   single-valued. A variable with no value matches nothing (so StringEquals/ArnLike fail
//   closed, StringNotEquals holds), as the IAM User Guide says; substituted values are
//   literal (their `*` is no wildcard).
// Evaluation as IAM does it for one principal: a request is allowed only when every
// resource it touches is allowed by some statement and denied by none; everything not
// allowed is denied (implicit deny).
import type { Ec2Sim } from './ec2.js';
import { escapeRegExp, type Params } from './ec2-query.js';
import { ACCOUNT_ID } from './world.js';
import type { World } from './world.js';

type ConditionValue = string | boolean | (string | boolean)[];

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, ConditionValue>>;
}

export interface PolicyDocument {
  Version?: string;
  Statement: Statement | Statement[];
}

/** One resource a request touches, with what conditions can ask of it. */
export interface ResourceContext {
  arn: string;
  tags: Readonly<Record<string, string>>;
  /** the resource's own condition keys (lower-case names), e.g. `ec2:vpc` of an interface */
  keys?: Readonly<Record<string, string>>;
}

/** Who asks: the request context keys that do not depend on the resource. */
export interface RequestContext {
  /** the instance id or static-key name from the sim's call log */
  caller?: string;
  /** lower-case names, e.g. `ec2:sourceinstancearn`; absent for static keys */
  keys?: Readonly<Record<string, string>>;
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
const OPERATORS = new Set(['StringEquals', 'StringNotEquals', 'Null', 'ArnLike']);
const TAG_KEY = /^(?:aws|ec2):ResourceTag\/(.+)$/i;
/** Keys other than tags, lower-case; all single-valued, so all may be variables too. */
const KEYS = new Set(['ec2:vpc', 'ec2:instanceid', 'ec2:sourceinstancearn', 'aws:ec2instancesourcevpc']);
const VARIABLE = /\$\{([^}]*)\}/g;

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
    for (const resource of list(s.Resource)) {
      if (resource.includes('${')) throw new Error(`${where}: policy variables in Resource (${resource}) are not supported by the simulator`);
    }
    for (const [operator, keys] of Object.entries(s.Condition ?? {})) {
      if (!OPERATORS.has(operator)) throw new Error(`${where}: condition operator ${operator} is not supported by the simulator`);
      for (const [key, value] of Object.entries(keys)) {
        if (!TAG_KEY.test(key) && !KEYS.has(key.toLowerCase())) throw new Error(`${where}: condition key ${key} is not supported by the simulator`);
        for (const v of list(value).map(String)) {
          for (const [, name] of v.matchAll(VARIABLE)) {
            // IAM User Guide: variables only in String and ARN operators, and only with Version 2012-10-17
            // (older versions read them as literal text).
            if (operator === 'Null') throw new Error(`${where}: a policy variable cannot be used with Null (${key}: ${v})`);
            if (doc.Version !== '2012-10-17') throw new Error(`${where}: policy variables need "Version": "2012-10-17" (${v})`);
            if (!KEYS.has(name!.toLowerCase())) throw new Error(`${where}: policy variable \${${name}} is not supported by the simulator`);
          }
        }
      }
    }
  });
  return statements;
}

function valueOf(key: string, resource: ResourceContext, request: RequestContext): string | undefined {
  const tag = TAG_KEY.exec(key);
  if (tag) return Object.hasOwn(resource.tags, tag[1]!) ? resource.tags[tag[1]!] : undefined;
  const name = key.toLowerCase();
  return request.keys?.[name] ?? resource.keys?.[name];
}

/** A condition value with its variables resolved: parts of literal text and substituted text. */
type Resolved = { text: string; substituted: boolean }[];

function resolve(value: string, resource: ResourceContext, request: RequestContext): Resolved | undefined {
  const parts: Resolved = [];
  let last = 0;
  for (const match of value.matchAll(VARIABLE)) {
    const substituted = valueOf(match[1]!, resource, request);
    if (substituted === undefined) return undefined; // no value: matches nothing
    parts.push({ text: value.slice(last, match.index), substituted: false }, { text: substituted, substituted: true });
    last = match.index! + match[0].length;
  }
  parts.push({ text: value.slice(last), substituted: false });
  return parts;
}

const joined = (parts: Resolved) => parts.map((p) => p.text).join('');

/**
 * ArnLike: "Each of the six colon-delimited components of the ARN is checked separately and
 * each can include multi-character match wildcards (*) or single-character match wildcards
 * (?)" (IAM User Guide, condition operators). Case-sensitive.
 */
function arnLike(actual: string, pattern: Resolved): boolean {
  const split = (text: string) => {
    const at: number[] = [];
    for (let i = 0; i < text.length && at.length < 5; i++) if (text[i] === ':') at.push(i);
    return at.length === 5 ? at : undefined;
  };
  const actualCuts = split(actual);
  const flat = joined(pattern);
  const patternCuts = split(flat);
  if (!actualCuts || !patternCuts) return false;
  // One regex per component; a wildcard counts only where the policy text itself has it.
  const fromVariable: boolean[] = pattern.flatMap((p) => [...p.text].map(() => p.substituted));
  const pieces = (text: string, cuts: number[]) => [0, ...cuts.map((c) => c + 1)].map((start, i) => [start, i < 5 ? cuts[i]! : text.length] as const);
  const actualParts = pieces(actual, actualCuts).map(([a, b]) => actual.slice(a, b));
  return pieces(flat, patternCuts).every(([a, b], i) => {
    let body = '';
    for (let j = a; j < b; j++) {
      const c = flat[j]!;
      body += fromVariable[j] ? escapeRegExp(c) : c === '*' ? '.*' : c === '?' ? '.' : escapeRegExp(c);
    }
    return new RegExp(`^${body}$`, 's').test(actualParts[i]!);
  });
}

function conditionsHold(condition: Statement['Condition'], resource: ResourceContext, request: RequestContext): boolean {
  for (const [operator, keys] of Object.entries(condition ?? {})) {
    for (const [key, expected] of Object.entries(keys)) {
      const actual = valueOf(key, resource, request);
      const values = list(expected).map(String);
      let holds: boolean;
      if (operator === 'Null') {
        // "true": the key must be absent; "false": present.
        holds = values.some((v) => (v === 'true' ? actual === undefined : actual !== undefined));
      } else {
        const resolved = values.map((v) => resolve(v, resource, request)).filter((r): r is Resolved => r !== undefined);
        if (operator === 'StringEquals') {
          holds = actual !== undefined && resolved.some((r) => joined(r) === actual);
        } else if (operator === 'StringNotEquals') {
          // True as well when the key is absent, as in IAM.
          holds = actual === undefined || !resolved.some((r) => joined(r) === actual);
        } else {
          // ArnLike: a missing key matches nothing.
          holds = actual !== undefined && resolved.some((r) => arnLike(actual, r));
        }
      }
      if (!holds) return false;
    }
  }
  return true;
}

function matches(statement: Statement, action: string, resource: ResourceContext, request: RequestContext): boolean {
  return (
    list(statement.Action).some((a) => wildcard(a, 'i').test(action)) &&
    list(statement.Resource).some((r) => wildcard(r).test(resource.arn)) &&
    conditionsHold(statement.Condition, resource, request)
  );
}

/** IAM's answer for one action on a set of resources: all must be allowed, none denied. */
export function authorize(statements: readonly Statement[], action: string, resources: ResourceContext[], request: RequestContext = {}): Decision {
  const caller = request.caller;
  for (const resource of resources) {
    const applicable = statements.filter((s) => matches(s, action, resource, request));
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

export interface ResourceOptions {
  /**
   * Whether AssociateAddress with NetworkInterfaceId also authorizes the instance the
   * interface is attached to. The Service Authorization Reference lists `instance` among
   * the action's resource types but does not say when a request naming only the interface
   * includes it, so tests run both readings. Default `checked`.
   */
  interfaceInstance?: 'checked' | 'unchecked';
}

/**
 * The resources an EC2 call touches, as the Service Authorization Reference lists them:
 * AssociateAddress — elastic-ip, instance, network-interface; DisassociateAddress —
 * elastic-ip, network-interface (no instance). undefined: the call names something that
 * does not exist, so IAM has nothing to judge it on and EC2's own answer (a NotFound) comes
 * back, as it does in AWS.
 */
export function resourcesOf(world: World, action: string, params: Params, options: ResourceOptions = {}): ResourceContext[] | undefined {
  const value = (name: string) => (params[name] === '' ? undefined : params[name]);
  const instanceContext = (instanceId: string): ResourceContext => ({ arn: arn(world, 'instance', instanceId), tags: {}, keys: { 'ec2:instanceid': instanceId } });
  const eniContext = (eniId: string, withInstance: boolean): ResourceContext[] | undefined => {
    const eni = world.findEni(eniId);
    if (!eni) return undefined;
    const interfaceContext = { arn: arn(world, 'network-interface', eni.networkInterfaceId), tags: {}, keys: { 'ec2:vpc': arn(world, 'vpc', eni.vpcId) } };
    // An unattached interface has no instance to check.
    return withInstance && eni.instanceId ? [interfaceContext, instanceContext(eni.instanceId)] : [interfaceContext];
  };
  switch (action) {
    case 'AssociateAddress': {
      const allocationId = value('AllocationId');
      const address = allocationId ? world.addresses.get(allocationId) : undefined;
      if (!address) return undefined;
      const eip = { arn: arn(world, 'elastic-ip', address.allocationId), tags: { ...address.tags } };
      const eniId = value('NetworkInterfaceId');
      if (eniId) {
        const rest = eniContext(eniId, (options.interfaceInstance ?? 'checked') === 'checked');
        return rest ? [eip, ...rest] : undefined;
      }
      const instance = value('InstanceId') ? world.instances.get(value('InstanceId')!) : undefined;
      if (!instance) return undefined;
      return [eip, instanceContext(instance.instanceId), ...(eniContext(instance.enis[0]!.networkInterfaceId, false) ?? [])];
    }
    case 'DisassociateAddress': {
      const associationId = value('AssociationId');
      const address = [...world.addresses.values()].find((a) => associationId !== undefined && a.association?.associationId === associationId);
      if (!address?.association) return undefined;
      return [{ arn: arn(world, 'elastic-ip', address.allocationId), tags: { ...address.tags } }, ...(eniContext(address.association.networkInterfaceId, false) ?? [])];
    }
    default:
      // Describe* cannot be scoped to resources: they authorize against `*`.
      return [{ arn: '*', tags: {} }];
  }
}

/**
 * The request context of a caller: an instance's role session carries
 * `ec2:SourceInstanceARN` ("included in the request context whenever the role session is
 * created by an Amazon EC2 instance") and `aws:Ec2InstanceSourceVpc` (the VPC its
 * credentials were delivered to: that of its primary interface); static keys carry neither.
 */
export function requestContextOf(world: World, caller: string | undefined): RequestContext {
  const instance = caller === undefined ? undefined : world.instances.get(caller);
  if (!instance) return caller === undefined ? {} : { caller };
  const primary = instance.enis.find((e) => e.deviceIndex === 0) ?? instance.enis[0]!;
  return {
    caller,
    keys: { 'ec2:sourceinstancearn': arn(world, 'instance', instance.instanceId), 'aws:ec2instancesourcevpc': primary.vpcId },
  };
}

export interface Enforcement {
  /** every decision taken, in order */
  readonly decisions: Decision[];
  denied(): Decision[];
  /** stop enforcing (the sim's deny hook is removed) */
  off(): void;
}

export interface EnforceOptions extends ResourceOptions {
  /** callers the policy applies to (default: every caller, instance roles and static keys alike) */
  applies?: (caller: string | undefined) => boolean;
}

/**
 * Makes the simulated EC2 endpoint enforce `policy` on every caller `options.applies` admits.
 * A denied call is answered 403 UnauthorizedOperation and changes nothing.
 */
export function enforcePolicy(ec2: Ec2Sim, world: World, policy: unknown, options: EnforceOptions = {}): Enforcement {
  const statements = parsePolicy(policy);
  const decisions: Decision[] = [];
  const previous = ec2.faults.deny;
  // A role session keeps its context after its instance ends (its keys stay valid until they expire).
  const sessions = new Map<string, RequestContext>();
  const contextOf = (caller: string | undefined): RequestContext => {
    const now = requestContextOf(world, caller);
    if (caller !== undefined && now.keys) sessions.set(caller, now);
    return (caller !== undefined && sessions.get(caller)) || now;
  };
  for (const id of world.instances.keys()) contextOf(id);
  ec2.faults.deny = (action, params, caller) => {
    if (previous?.(action, params, caller)) return true;
    if (options.applies && !options.applies(caller)) return false;
    const resources = resourcesOf(world, action, params, options);
    if (!resources) return false;
    const decision = authorize(statements, `ec2:${action}`, resources, contextOf(caller));
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
