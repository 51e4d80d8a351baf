// The doctor's questions to the API server (shared/doctor-ports.ts): who am I
// (SelfSubjectReview), may I (SelfSubjectAccessReview), and would this label patch be
// admitted (dryRun=All: authorization and admission run, nothing is stored).
import type { KubeProbe } from '../shared/doctor-ports.js';
import { AgentError } from '../shared/errors.js';
import { createKubeTransport, type KubeClientDeps } from './kube-client.js';
import { isObject } from './kube-exec.js';
import type { KubeTarget } from './kubeconfig.js';

export function createKubeProbe(target: KubeTarget, deps: KubeClientDeps = {}): KubeProbe {
  const api = createKubeTransport(target, deps);
  const malformed = (what: string, expected: string) => new AgentError('malformed', 'kube.malformed', `${api.where}: ${what}: answer is not ${expected}`);
  return {
    async whoAmI() {
      const what = 'SelfSubjectReview';
      const answer = await api.request({
        method: 'POST',
        path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
        what,
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      });
      const user = isObject(answer) && isObject(answer.status) && isObject(answer.status.userInfo) ? answer.status.userInfo.username : undefined;
      if (typeof user !== 'string') throw malformed(what, 'a SelfSubjectReview with status.userInfo.username');
      return user;
    },

    async canI(q) {
      const what = `SelfSubjectAccessReview ${q.verb} ${q.resource}${q.name ? `/${q.name}` : ''}`;
      const answer = await api.request({
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        what,
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: {
            resourceAttributes: {
              verb: q.verb,
              group: q.group,
              resource: q.resource,
              ...(q.namespace ? { namespace: q.namespace } : {}),
              ...(q.name ? { name: q.name } : {}),
              // Field selectors in reviews: Kubernetes 1.31+; the Node authorizer needs it for pods.
              ...(q.fieldSelector ? { fieldSelector: { rawSelector: q.fieldSelector } } : {}),
            },
          },
        },
      });
      const status = isObject(answer) ? answer.status : undefined;
      if (!isObject(status) || typeof status.allowed !== 'boolean') throw malformed(what, 'a SelfSubjectAccessReview with status.allowed');
      const reason = [status.reason, status.evaluationError].filter((s): s is string => typeof s === 'string' && s !== '').join('; ');
      return { allowed: status.allowed && status.denied !== true, reason };
    },

    async dryRunLabel(nodeName, labels) {
      await api.request({
        method: 'PATCH',
        path: `/api/v1/nodes/${encodeURIComponent(nodeName)}?dryRun=All`,
        what: `label node ${nodeName} (dryRun=All)`,
        body: { metadata: { labels } },
        contentType: 'application/merge-patch+json',
      });
    },

    close: () => api.close(),
  };
}
