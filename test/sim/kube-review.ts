// SelfSubjectAccessReview (authorization.k8s.io/v1): "may I?", answered by the same
// authorizer that judges real requests (kube-authz.ts: the Node authorizer for kubelet
// identities, everything for the others), with the Node authorizer's own reasons. Field
// selectors in reviews (Kubernetes 1.31+, rawSelector or requirements) count as they do on
// a real list: a node may list its own pods only with spec.nodeName=<node>. Pure.
import { authorize, nodeOf, type Attributes, type KubeUser } from './kube-authz.js';
import type { Json } from './kube-objects.js';
import { parseFieldSelector, SelectorError } from './kube-select.js';

const VERBS = new Set(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']);

/** What the review answers, or the 422/400 message of a review that is not valid. */
export type ReviewAnswer = { ok: true; review: Json } | { ok: false; status: 400 | 422; message: string };

function ownSelector(resource: string, node: string | undefined, selector: Json): boolean | string {
  if (selector === undefined) return false;
  const field = resource === 'nodes' ? 'metadata.name' : 'spec.nodeName';
  let terms: { field: string; equal: boolean; value: string }[];
  if (typeof selector?.rawSelector === 'string') {
    try {
      terms = parseFieldSelector(selector.rawSelector, [field, 'metadata.name', 'metadata.namespace', 'spec.nodeName', 'status.phase']);
    } catch (error) {
      if (error instanceof SelectorError) return error.message;
      throw error;
    }
  } else if (Array.isArray(selector?.requirements)) {
    // `In` with one value is an equality; anything else selects more than one node's objects.
    terms = selector.requirements.map((r: Json) => ({ field: String(r?.key), equal: r?.operator === 'In' && r?.values?.length === 1, value: String(r?.values?.[0]) }));
  } else {
    return 'spec.resourceAttributes.fieldSelector: Invalid value: exactly one of rawSelector or requirements must be specified';
  }
  return node !== undefined && terms.length === 1 && terms[0]!.field === field && terms[0]!.equal && terms[0]!.value === node;
}

/** `podNode`: the node a named pod is bound to (get of one pod). */
export function review(user: KubeUser, body: Json, podNode: (namespace: string, name: string) => string | undefined): ReviewAnswer {
  const attributes = body?.spec?.resourceAttributes;
  if ((attributes === undefined) === (body?.spec?.nonResourceAttributes === undefined)) {
    return { ok: false, status: 422, message: 'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified' };
  }
  const answer = (allowed: boolean, reason: string): ReviewAnswer => ({
    ok: true,
    review: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', metadata: { creationTimestamp: null }, spec: body.spec, status: { allowed, ...(reason ? { reason } : {}) } },
  });
  // Non-resource URLs (/healthz, …): system:discovery and system:public-info-viewer allow the few a node reads; not modelled further.
  if (attributes === undefined) return answer(nodeOf(user) === undefined, '');
  const verb = String(attributes.verb ?? '');
  const a: Attributes = {
    verb: (VERBS.has(verb) ? verb : 'get') as Attributes['verb'],
    group: String(attributes.group ?? ''),
    resource: String(attributes.resource ?? ''),
    ...(attributes.namespace ? { namespace: String(attributes.namespace) } : {}),
    ...(attributes.name ? { name: String(attributes.name) } : {}),
  };
  if (!VERBS.has(verb)) return answer(nodeOf(user) === undefined, ''); // a verb nobody grants a node (escalate, bind, …)
  const own = ownSelector(a.resource, nodeOf(user), attributes.fieldSelector);
  if (typeof own === 'string') return { ok: false, status: 400, message: own };
  const refusal = authorize(user, a, { ownSelector: own, ...(a.resource === 'pods' && a.name && a.namespace ? { podNode: podNode(a.namespace, a.name) } : {}) });
  return refusal ? answer(false, refusal.reason ?? '') : answer(true, '');
}
