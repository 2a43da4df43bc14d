/**
 * `hivewall learn` and `kubectl hivewall export` attacked through their input, as a tenant who
 * controls what its own pods do (DNS answers, names of its objects) or who hands in a snapshot:
 * - FQDN poisoning: another namespace's DNS answer must never name a world address in this
 *   namespace's policy (judged by the independent evaluator in src/domain/simulate);
 * - names that are not Kubernetes names (`..`, `/`, `/../..`) are counted and skipped, and every
 *   file written stays inside --out;
 * - a snapshot of nested YAML aliases is refused at once with a clear error;
 * - terminal escapes in input never reach the terminal.
 * Each case asserts that nothing was learned or written from the hostile part.
 */
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { writeExport } from '../../src/cli/kubectl-plugin/export.js';
import { createEvaluator, type ClusterModel, type Policy } from '../../src/domain/simulate/index.js';
import { captureRun } from '../../src/testing/cli-run.js';
import { connection, dnsAnswer, type Pod } from './flows.js';

const run = (args: string[]) => captureRun((io) => main(args, io));

const coredns: Pod = { ip: '10.244.0.10', ns: 'kube-system', pod: 'coredns-7d9c-abcde', app: 'kube-dns', workload: { kind: 'Deployment', name: 'coredns' } };
const cart: Pod = { ip: '10.244.1.20', ns: 'shop', pod: 'cart-5f6b7c8d9e-abcde', app: 'cart' };
const web: Pod = { ip: '10.244.1.21', ns: 'shop', pod: 'web-5f6b7c8d9e-abcde', app: 'web' };
const mallory: Pod = { ip: '10.244.2.66', ns: 'evil', pod: 'mallory-6c9f7d8b5d-x2k4p', app: 'mallory' };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hivewall-security-'));
});

/** Every file under `root`, relative, sorted. */
async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path);
      else out.push(path);
    }
  };
  await walk('');
  return out.sort();
}

describe('FQDN poisoning across namespaces', () => {
  const shared = '203.0.113.50';
  const partner = '198.51.100.7';

  async function learnCilium(): Promise<{ policies: Policy[]; out: string; code: number }> {
    const flows = join(dir, 'flows.jsonl');
    await writeFile(flows, [
      // evil resolves its own name to an address shop's cart also talks to (a shared CDN, or on purpose).
      dnsAnswer(coredns, mallory, 'attacker.example', [shared]),
      connection(mallory, { ip: shared }, 443),
      // cart reaches the same address without ever resolving attacker.example ...
      connection(cart, { ip: shared }, 443),
      // ... and resolves its partner's API itself: that name is cart's to use.
      dnsAnswer(coredns, cart, 'api.partner.example', [partner]),
      connection(cart, { ip: partner }, 443),
      // web (same namespace as cart) resolved nothing: cart's name must not reach web's policy either.
      connection(web, { ip: partner }, 443),
    ].join('\n') + '\n');
    const out = join(dir, 'out');
    const r = await run(['learn', '--flows', flows, '--flavor', 'cilium', '--namespace', 'shop', '--out', out, '-q']);
    const policies: Policy[] = [];
    for (const file of (await readdir(join(out, 'shop'))).filter((f) => f !== 'kustomization.yaml')) {
      policies.push(load(await readFile(join(out, 'shop', file), 'utf8')) as Policy);
    }
    return { policies, out, code: r.code };
  }

  const cluster: ClusterModel = {
    namespaces: [{ name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop' } }],
    pods: [cart, web].map((p) => ({ namespace: p.ns, name: p.pod, labels: { app: p.app }, ips: [p.ip], ports: [], hostNetwork: false })),
    nodes: [],
    kubeApiserverIPs: [],
  };
  const from = (p: Pod, ip: string, dnsNames: string[] = []) =>
    ({ source: { kind: 'pod' as const, namespace: p.ns, name: p.pod }, destination: { kind: 'ip' as const, ip, entity: 'world' as const, dnsNames }, port: 443, protocol: 'TCP' as const });

  it('a name resolved only by another namespace never enters this namespace\'s toFQDNs', async () => {
    const { policies, code } = await learnCilium();
    expect(code).toBe(0);
    expect(JSON.stringify(policies)).not.toContain('attacker.example');
    const evaluator = createEvaluator(cluster, policies);
    // evil points attacker.example somewhere else: shop must not follow it.
    expect(evaluator.evaluate(from(cart, '192.0.2.99', ['attacker.example'])).allowed).toBe(false);
    // What cart really did stays allowed: the shared address by CIDR, its partner by the name it resolved.
    expect(evaluator.evaluate(from(cart, shared)).allowed).toBe(true);
    expect(evaluator.evaluate(from(cart, '192.0.2.100', ['api.partner.example'])).allowed).toBe(true);
  });

  it('a name resolved by one workload does not widen another workload of the same namespace', async () => {
    const { policies } = await learnCilium();
    const evaluator = createEvaluator(cluster, policies);
    expect(evaluator.evaluate(from(web, partner)).allowed).toBe(true);
    expect(evaluator.evaluate(from(web, '192.0.2.100', ['api.partner.example'])).allowed).toBe(false);
  });
});

describe('paths from names that are not Kubernetes names', () => {
  const hostile: { name: string; pod: Pod }[] = [
    { name: 'namespace ..', pod: { ...mallory, ns: '..' } },
    { name: 'namespace with a slash', pod: { ...mallory, ns: 'a/b' } },
    { name: 'workload name climbing out of --out', pod: { ...mallory, workload: { kind: 'Deployment', name: 'x/../../../escaped' } } },
    { name: 'pod name with a slash', pod: { ...mallory, pod: 'a/../../b' } },
    { name: 'workload kind with a slash', pod: { ...mallory, workload: { kind: '../Deployment', name: 'x' } } },
    { name: 'label with an escape', pod: { ...mallory, app: 'x\u001b[2J' } },
  ];

  it.each(hostile)('$name: counted and skipped, nothing written outside --out, nothing learned from it', async ({ pod }) => {
    const parent = join(dir, 'parent');
    const out = join(parent, 'out');
    await mkdir(parent, { recursive: true });
    // A file hivewall once wrote next to --out: a namespace `..` run must not delete or rewrite it.
    const decoy = join(parent, 'hivewall-default-deny.yaml');
    await writeFile(decoy, 'metadata:\n  labels:\n    app.kubernetes.io/managed-by: hivewall\n');
    const flows = join(dir, 'flows.jsonl');
    await writeFile(flows, [connection(pod, cart, 8080), connection(cart, pod, 9090), connection(web, cart, 8080)].join('\n') + '\n');
    const r = await run(['learn', '--flows', flows, '--out', out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/invalid Kubernetes name 2/);
    expect(await tree(parent)).toEqual(['hivewall-default-deny.yaml', 'out/shop/hivewall-cart.yaml', 'out/shop/hivewall-default-deny.yaml', 'out/shop/hivewall-web.yaml', 'out/shop/kustomization.yaml']);
    expect(await readFile(decoy, 'utf8')).toContain('managed-by: hivewall');
    // Nothing of the hostile peer was learned: cart's policy has web as its only peer.
    const cartPolicy = await readFile(join(out, 'shop', 'hivewall-cart.yaml'), 'utf8');
    expect(cartPolicy).not.toMatch(/mallory|evil|escaped/);
  });

  it('a snapshot object with a name that is not a Kubernetes name is skipped as a problem (conntrack)', async () => {
    const snapshot = join(dir, 'snapshot.yaml');
    const podYaml = (ns: string, name: string, ip: string, app: string) =>
      `- {apiVersion: v1, kind: Pod, metadata: {name: "${name}", namespace: "${ns}", labels: {app: ${app}}}, spec: {nodeName: node-a}, status: {podIP: ${ip}}}`;
    await writeFile(snapshot, `apiVersion: v1\nkind: List\nitems:\n${[
      '- {apiVersion: v1, kind: Node, metadata: {name: node-a}, spec: {podCIDR: 10.244.0.0/16}, status: {addresses: [{type: InternalIP, address: 172.18.0.2}]}}',
      podYaml('..', 'mallory', mallory.ip, 'mallory'),
      podYaml('shop', 'cart', cart.ip, 'cart'),
      podYaml('shop', 'web', web.ip, 'web'),
    ].join('\n')}\n`);
    const flows = join(dir, 'conntrack.txt');
    const ct = (src: Pod, dst: Pod, sport: number) =>
      `[1795752849.772123]\t [UPDATE] ipv4     2 tcp      6 432000 ESTABLISHED src=${src.ip} dst=${dst.ip} sport=${sport} dport=8080 src=${dst.ip} dst=${src.ip} sport=8080 dport=${sport} [ASSURED]`;
    await writeFile(flows, `${ct(mallory, cart, 41000)}\n${ct(web, cart, 41001)}\n`);
    const parent = join(dir, 'ct-parent');
    const out = join(parent, 'out');
    const r = await run(['learn', '--flows', flows, '--cluster', snapshot, '--out', out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/1 object\(s\) skipped/);
    expect(r.out).toMatch(/unresolved address 1/);
    expect(await tree(parent)).toEqual(['out/shop/hivewall-cart.yaml', 'out/shop/hivewall-default-deny.yaml', 'out/shop/hivewall-web.yaml', 'out/shop/kustomization.yaml']);
  });

  it.each([
    ['namespace ..', '..', 'hivewall-x'],
    ['namespace with a slash', 'a/b', 'hivewall-x'],
    ['object name climbing out', 'shop', '../../escaped'],
  ])('kubectl hivewall export refuses %s and writes nothing', async (_name, namespace, objectName) => {
    const parent = join(dir, 'export-parent');
    const out = join(parent, 'out');
    await mkdir(out, { recursive: true });
    const object = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: objectName, namespace }, spec: { podSelector: {} } };
    await expect(writeExport(out, namespace, [object])).rejects.toThrow(/not a valid|outside/);
    expect(await tree(parent)).toEqual([]);
  });
});

describe('YAML alias amplification', () => {
  it('a snapshot made of nested aliases is refused at once, with what was refused', async () => {
    // 1.6 KB: 160 pods × 160 containers × 160 ports for whatever walks the result (about 7 s of
    // validation on this machine before aliases were refused).
    const refs = (anchor: string) => `[${Array(160).fill(`*${anchor}`).join(',')}]`;
    const bomb = `apiVersion: v1\nkind: List\nq: &q {containerPort: 80}\nc: &c {ports: ${refs('q')}}\n`
      + `p: &p {apiVersion: v1, kind: Pod, metadata: {name: p, namespace: shop}, spec: {containers: ${refs('c')}}}\nitems: ${refs('p')}\n`;
    expect(bomb.length).toBeLessThan(3072);
    const snapshot = join(dir, 'bomb.yaml');
    await writeFile(snapshot, bomb);
    const flows = join(dir, 'flows.jsonl');
    await writeFile(flows, `${connection(web, cart, 8080)}\n`);
    const out = join(dir, 'out');
    const started = performance.now();
    const r = await run(['learn', '--flows', flows, '--cluster', snapshot, '--out', out]);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bomb\.yaml: YAML aliases are not accepted in a cluster snapshot/);
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
  });
});

describe('terminal escapes', () => {
  it('input text never reaches the terminal as control characters', async () => {
    const flows = join(dir, 'flows.jsonl');
    await writeFile(flows, [
      connection(web, cart, 8080),
      // A drop reason and a DNS name are free text in a flow.
      connection(web, cart, 9999, { verdict: 'DROPPED', drop_reason_desc: 'POLICY_DENIED\u001b]0;pwned\u0007\u001b[2J' }),
      dnsAnswer(coredns, web, 'evil\u001b[31m.example', ['203.0.113.9']),
      connection(web, { ip: '203.0.113.9' }, 443),
    ].join('\n') + '\n');
    const learn = await run(['learn', '--flows', flows, '--out', join(dir, 'out')]);
    expect(learn.code).toBe(0);
    const graph = await run(['graph', '--flows', flows, '-o', 'text', '-q']);
    expect(graph.code).toBe(0);
    for (const text of [learn.out, learn.err, graph.out, graph.err]) {
      // eslint-disable-next-line no-control-regex
      expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    }
    expect(learn.out).toContain('POLICY_DENIED\\u001b]0;pwned\\u0007\\u001b[2J');
  });
});
