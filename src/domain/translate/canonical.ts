/**
 * A policy object in hivewall's fixed, conventional key order, whatever order it arrived in.
 *
 * The API server does not keep the key order it was given: a custom resource (a PolicyProposal's
 * `spec.content.objects`, a CiliumNetworkPolicy) comes back with every key sorted (Go's
 * `encoding/json` sorts map keys), a NetworkPolicy in the Go struct's field order (`podSelector`,
 * `ingress`, `egress`, `policyTypes`; `ports` before `from`). Rendering such an object as is gives
 * YAML that differs from what `hivewall learn` writes for the same policy, and a GitOps diff full
 * of noise. {@link canonicalPolicyOrder} puts keys back in the order the translators build:
 *
 *   apiVersion, kind, metadata {name, namespace, labels, annotations}, spec {podSelector |
 *   endpointSelector, policyTypes, ingress, egress}; inside a rule the peers (`from`, `to`,
 *   `toEndpoints`, …) before the ports (`ports`, `toPorts`); a NetworkPolicy port as
 *   {protocol, port, endPort}; a selector as {matchLabels, matchExpressions}; a peer as
 *   {namespaceSelector, podSelector, ipBlock}.
 *
 * Everything not named here (label maps, unknown fields) is sorted alphabetically, recursively,
 * which is also how the translators write label maps. Array order is kept: the translators sort
 * lists, and the API server keeps list order. Pure.
 */

/** Key order of one object and the shapes of its children; keys not listed sort alphabetically. */
interface Shape {
  /** Keys that come first, in this order. */
  readonly first?: readonly string[];
  /** Keys that come last, in this order (after the alphabetical rest). */
  readonly last?: readonly string[];
  /** Shape of the value under a key (for an array: of each item). */
  readonly children?: Readonly<Record<string, Shape>>;
}

const ALPHABETICAL: Shape = {};

const selector: Shape = { first: ['matchLabels', 'matchExpressions'], children: { matchExpressions: { first: ['key', 'operator', 'values'] } } };

const metadata: Shape = { first: ['name', 'namespace', 'labels', 'annotations'] };

/** networking.k8s.io/v1 NetworkPolicy. */
const npPeer: Shape = { first: ['namespaceSelector', 'podSelector', 'ipBlock'], children: { namespaceSelector: selector, podSelector: selector, ipBlock: { first: ['cidr', 'except'] } } };
const npRule: Shape = { first: ['from', 'to'], last: ['ports'], children: { from: npPeer, to: npPeer, ports: { first: ['protocol', 'port', 'endPort'] } } };
const npSpec: Shape = { first: ['podSelector', 'policyTypes', 'ingress', 'egress'], children: { podSelector: selector, ingress: npRule, egress: npRule } };

/** cilium.io/v2 CiliumNetworkPolicy: peers (fromEndpoints, toCIDRSet, toFQDNs, …) alphabetically, then ports. */
const cnpPortRule: Shape = { first: ['ports', 'rules'], children: { ports: { first: ['port', 'endPort', 'protocol'] } } };
const cnpRule: Shape = {
  last: ['toPorts', 'icmps'],
  children: {
    fromEndpoints: selector, toEndpoints: selector, fromRequires: selector, toRequires: selector, fromNodes: selector, toNodes: selector,
    fromCIDRSet: { first: ['cidr', 'except'] }, toCIDRSet: { first: ['cidr', 'except'] }, toFQDNs: { first: ['matchName', 'matchPattern'] },
    toPorts: cnpPortRule,
  },
};
const cnpSpec: Shape = {
  first: ['endpointSelector', 'nodeSelector', 'ingress', 'ingressDeny', 'egress', 'egressDeny'],
  children: { endpointSelector: selector, nodeSelector: selector, ingress: cnpRule, ingressDeny: cnpRule, egress: cnpRule, egressDeny: cnpRule },
};

const SPEC_BY_KIND: Readonly<Record<string, Shape>> = {
  NetworkPolicy: npSpec,
  CiliumNetworkPolicy: cnpSpec,
  CiliumClusterwideNetworkPolicy: cnpSpec,
};

function objectShape(kind: unknown): Shape {
  const spec = typeof kind === 'string' ? SPEC_BY_KIND[kind] : undefined;
  return { first: ['apiVersion', 'kind', 'metadata', 'spec', 'specs'], children: { metadata, ...(spec ? { spec, specs: spec } : {}) } };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function order(value: unknown, shape: Shape): unknown {
  if (Array.isArray(value)) return value.map((item) => order(item, shape));
  if (!isPlainObject(value)) return value;
  const first = shape.first ?? [];
  const last = shape.last ?? [];
  const keys = Object.keys(value);
  const present = (k: string) => Object.hasOwn(value, k);
  const rest = keys.filter((k) => !first.includes(k) && !last.includes(k)).sort(byCodeUnit);
  const out: Record<string, unknown> = {};
  for (const key of [...first.filter(present), ...rest, ...last.filter(present)]) {
    out[key] = order(value[key], shape.children?.[key] ?? ALPHABETICAL);
  }
  return out;
}

/**
 * The object with its keys in hivewall's conventional order (see the module comment), as a new
 * object; the input is not changed. Values are kept as they are.
 */
export function canonicalPolicyOrder<T>(object: T): T {
  if (!isPlainObject(object)) return object;
  return order(object, objectShape(object['kind'])) as T;
}
