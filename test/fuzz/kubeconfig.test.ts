// Fuzz: random and mutated kubeconfig files through loadKubeconfig (temp files). Whatever
// the file holds, the answer is a KubeTarget, undefined (no such file), or one InputError
// whose one-line message starts with `kubeconfig <path>:` and quotes no credential (G6).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { loadKubeconfig } from '../../agent/adapters/kubeconfig.js';
import { InputError } from '../../agent/shared/errors.js';
import { NASTY, nastyString, rng, type Rng } from './random.js';

const CASES = 400;
const TOKEN = 'fuzz-secret-token-7f3a9c';
const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIEfake\n-----END PRIVATE KEY-----\n';
const b64 = (s: string) => Buffer.from(s).toString('base64');

const BASES = [
  // bearer token, as the simulator writes it
  `apiVersion: v1
kind: Config
clusters:
- name: sim
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: ${b64(CA)}
users:
- name: node
  user:
    token: ${TOKEN}
contexts:
- name: sim
  context: {cluster: sim, user: node}
current-context: sim
`,
  // EKS: an exec plugin
  `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority: ca.crt
    server: https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: kubelet
  name: kubelet
current-context: kubelet
users:
- name: kubelet
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, demo, --region, eu-west-1]
      env:
      - name: AWS_STS_REGIONAL_ENDPOINTS
        value: regional
      interactiveMode: Never
      provideClusterInfo: false
`,
  // client certificates from files, a token file
  `apiVersion: v1
clusters:
- name: c
  cluster:
    server: http://localhost:8080/prefix
    insecure-skip-tls-verify: true
users:
- name: u
  user:
    client-certificate: client.crt
    client-key: client.key
    tokenFile: token
contexts:
- name: x
  context:
    cluster: c
    user: u
current-context: x
`,
];

/** Hand-made nasty documents: YAML features that parsers answer with unusual exceptions. */
const SPECIAL = [
  '',
  '# only a comment\n',
  '---\n',
  'null\n',
  '42\n',
  '"a string"\n',
  '- a\n- list\n',
  '\uFEFFapiVersion: v1\n',
  '{"apiVersion": "v1", "current-context": "x", "contexts": [], "clusters": [], "users": []}\n',
  'current-context: *missing\n',
  'current-context: &a x\ncontexts: [{name: x, context: {cluster: *a}}]\n',
  [
    'a: &a ["x","x","x","x","x","x","x","x","x"]',
    'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
    'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
    'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
    'current-context: [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  ].join('\n'),
  'a: 1\n---\nb: 2\n',
  'current-context: x\ncurrent-context: y\n',
  'current-context: !!binary AAAA\n',
  'current-context: !custom x\n',
  'current-context: !!int zz\n',
  '<<: *x\n',
  '['.repeat(3000),
  'a:\n' + '  '.repeat(200) + 'b: c\n',
  'current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\nclusters:\n- name: c\n  cluster: {server: "https://[::1"}\nusers: []\n',
  'current-context: x\ncontexts:\n- {name: x, context: {cluster: c, user: u}}\nclusters:\n- {name: c, cluster: {server: "https://h"}}\nusers:\n- {name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: x, env: [1, {name: 2}]}}}\n',
  'current-context: x\ncontexts:\n- {name: x, context: {cluster: c, user: u}}\nclusters:\n- {name: c, cluster: {server: "https://h"}}\nusers:\n- {name: u, user: {tokenFile: /nonexistent/token, client-certificate-data: "!!!"}}\n',
  'current-context: x\ncontexts:\n- {name: x, context: {cluster: c, user: u}}\nclusters:\n- {name: c, cluster: {server: "https://h", certificate-authority: "."}}\n',
  '__proto__: {current-context: x}\n',
  'current-context: constructor\ncontexts: [{name: constructor}]\n',
  Buffer.from([0xff, 0xfe, 0x00, 0x41, 0xc3, 0x28, 0x0a]).toString('latin1'),
];

function mutateText(text: string, r: Rng): string {
  const lines = text.split('\n');
  const at = r.int(text.length + 1);
  switch (r.int(8)) {
    case 0: // delete a span
      return text.slice(0, at) + text.slice(at + 1 + r.int(40));
    case 1: // insert something nasty
      return text.slice(0, at) + r.pick([':', '- ', '{', '}', '[', ']', '&a ', '*a', '!!', '|', '>', '"', "'", '#', '\t', '\n  ', '%YAML 1.1\n', ...NASTY.slice(0, 20)]) + text.slice(at);
    case 2: { // duplicate a line elsewhere
      const line = r.pick(lines);
      lines.splice(r.int(lines.length), 0, line);
      return lines.join('\n');
    }
    case 3: { // swap two lines
      const i = r.int(lines.length);
      const j = r.int(lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return lines.join('\n');
    }
    case 4: { // re-indent a line
      const i = r.int(lines.length);
      lines[i] = ' '.repeat(r.int(8)) + lines[i]!.trimStart();
      return lines.join('\n');
    }
    case 5: // truncate
      return text.slice(0, at);
    case 6: { // flip a byte
      const code = text.charCodeAt(at) ^ (1 << r.int(7));
      return text.slice(0, at) + String.fromCharCode(code) + text.slice(at + 1);
    }
    default: // several at once
      return mutateText(mutateText(text, r), r);
  }
}

/** Replaces one node of the parsed document with a value of another type, or removes it. */
function mutateTree(text: string, r: Rng): string {
  const doc = parseDocument(text);
  const paths: (string | number)[][] = [];
  const walk = (node: unknown, path: (string | number)[]) => {
    paths.push(path);
    if (isMap(node)) for (const pair of node.items) walk(pair.value, [...path, isScalar(pair.key) ? String(pair.key.value) : '?']);
    else if (isSeq(node)) node.items.forEach((item, i) => walk(item, [...path, i]));
  };
  walk(doc.contents as YamlNode, []);
  const path = r.pick(paths.slice(1));
  if (!path) return text;
  const replacement = r.pick<unknown>([null, 0, -1, 1e300, true, false, [], {}, ['x'], { a: 'b' }, nastyString(r), nastyString(r), 'x'.repeat(5000)]);
  if (r.chance(0.2)) doc.deleteIn(path);
  else doc.setIn(path, replacement);
  return doc.toString();
}

describe('fuzz: kubeconfig files', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'eip-fuzz-kube-'));
    // Files the bases refer to, so that unmutated bases load.
    writeFileSync(join(dir, 'ca.crt'), CA);
    writeFileSync(join(dir, 'client.crt'), CA);
    writeFileSync(join(dir, 'client.key'), KEY);
    writeFileSync(join(dir, 'token'), TOKEN);
    mkdirSync(join(dir, 'a-directory'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function check(name: string, path: string, content: string): Promise<'target' | 'missing' | 'rejected'> {
    let result: unknown;
    try {
      result = await loadKubeconfig(path);
    } catch (error) {
      assert.ok(error instanceof InputError, `${name}: expected an InputError, got ${(error as Error)?.constructor?.name}: ${String(error).slice(0, 200)}\n--- file ---\n${content.slice(0, 400)}`);
      assert.ok(error.message.startsWith(`kubeconfig ${path}`), `${name}: names the file: ${error.message.slice(0, 200)}`);
      assert.match(error.message, /^kubeconfig [^:]+(: [^:]|:)/, `${name}: "kubeconfig <path>:" first`);
      assert.doesNotMatch(error.message, /[\n\r]/, `${name}: one line: ${JSON.stringify(error.message.slice(0, 300))}`);
      assert.ok(!error.message.includes(TOKEN), `${name}: the token leaked into ${error.message.slice(0, 300)}`);
      return 'rejected';
    }
    if (result === undefined) return 'missing';
    const target = result as { server?: unknown };
    assert.equal(typeof target.server, 'string', `${name}: a KubeTarget has a server`);
    assert.ok(URL.canParse(target.server as string), `${name}: the server is a URL`);
    return 'target';
  }

  test('the unmutated bases load, and a missing file is undefined', async () => {
    for (const [i, base] of BASES.entries()) {
      const path = join(dir, `base-${i}.yaml`);
      writeFileSync(path, base);
      assert.equal(await check(`base ${i}`, path, base), 'target');
    }
    assert.equal(await check('missing', join(dir, 'nope.yaml'), ''), 'missing');
    assert.equal(await check('a directory', join(dir, 'a-directory'), ''), 'rejected');
  });

  for (const [i, content] of SPECIAL.entries()) {
    test(`special document ${i}: ${JSON.stringify(content.slice(0, 40))}`, async () => {
      const path = join(dir, `special-${i}.yaml`);
      writeFileSync(path, content);
      await check(`special ${i}`, path, content);
    });
  }

  test(`${CASES} mutated kubeconfigs: a target or one InputError naming the file`, async () => {
    const r = rng(0xc0ffee);
    const seen = { target: 0, missing: 0, rejected: 0 };
    for (let i = 0; i < CASES; i++) {
      const base = r.pick(BASES);
      const content = r.chance(0.5) ? mutateText(base, r) : mutateTree(base, r);
      const path = join(dir, `case-${i}.yaml`);
      writeFileSync(path, content);
      seen[await check(`case ${i}`, path, content)] += 1;
    }
    assert.ok(seen.target > 20 && seen.rejected > 100, JSON.stringify(seen));
  });
});
