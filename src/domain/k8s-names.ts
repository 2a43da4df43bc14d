/**
 * Kubernetes name and label syntax (k8s.io/apimachinery/pkg/util/validation), checked wherever a
 * name arrives from outside (a flow, a snapshot, an agent, a stored profile) so that nothing that
 * the API server itself would refuse ever becomes a peer, a policy name or a path part.
 *
 * - DNS-1123 label (namespaces, Service names): at most 63 characters, `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
 * - DNS-1123 subdomain (pods, Deployments, StatefulSets, Jobs, nodes, ...): at most 253
 *   characters, DNS-1123 labels joined by dots.
 * - Qualified name (label keys): an optional DNS-1123 subdomain prefix and `/`, then a name of at
 *   most 63 characters, `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
 * - Label value: empty, or at most 63 characters of the same shape as a name.
 * - Kind: a Go type name as the API uses it, `[A-Z][A-Za-z0-9]*`.
 * Pure: no I/O.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const KIND = /^[A-Z][A-Za-z0-9]{0,62}$/;
/** A host name as DNS carries it: letters, digits, `-` and `_` (SRV and some CDNs), dot-separated. */
const DNS_NAME = /^[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?)*$/;

export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}

export function isDns1123Subdomain(value: string): boolean {
  return value.length <= 253 && DNS1123_SUBDOMAIN.test(value);
}

/** A label key: `[prefix/]name` (prefix a DNS-1123 subdomain, name at most 63 characters). */
export function isLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0 && (slash === 0 || !isDns1123Subdomain(key.slice(0, slash)))) return false;
  return name.length <= 63 && QUALIFIED_NAME.test(name);
}

export function isLabelValue(value: string): boolean {
  return value === '' || (value.length <= 63 && QUALIFIED_NAME.test(value));
}

/** A resource kind such as `Deployment` or `CronJob`. */
export function isKind(value: string): boolean {
  return KIND.test(value);
}

/** A DNS name as a resolver answers it (no trailing dot), at most 253 characters: usable in Cilium `toFQDNs.matchName`. */
export function isDnsName(value: string): boolean {
  return value.length <= 253 && DNS_NAME.test(value);
}

/** Why `namespace` is not a namespace name, or undefined when it is one. */
export function invalidNamespace(namespace: string): string | undefined {
  return isDns1123Label(namespace) ? undefined : `namespace ${JSON.stringify(namespace)} is not a DNS-1123 label`;
}

/** Why `name` is not an object name (pods, workloads, nodes), or undefined. */
export function invalidObjectName(name: string, what = 'name'): string | undefined {
  return isDns1123Subdomain(name) ? undefined : `${what} ${JSON.stringify(name)} is not a DNS-1123 subdomain`;
}

/** Why a workload (`namespace`, `kind`, `name`) cannot be a Kubernetes workload, or undefined. */
export function invalidWorkload(namespace: string, kind: string, name: string): string | undefined {
  return invalidNamespace(namespace)
    ?? (isKind(kind) ? undefined : `kind ${JSON.stringify(kind)} is not a Kubernetes kind`)
    ?? invalidObjectName(name, `${kind} name`);
}

/** Why a `key=value` label (or a bare key) is not a Kubernetes label, or undefined. */
export function invalidLabel(keyValue: string): string | undefined {
  const equals = keyValue.indexOf('=');
  const key = equals < 0 ? keyValue : keyValue.slice(0, equals);
  const value = equals < 0 ? '' : keyValue.slice(equals + 1);
  if (!isLabelKey(key)) return `label key ${JSON.stringify(key)} is not a qualified name`;
  if (!isLabelValue(value)) return `label value ${JSON.stringify(value)} of ${key} is not a label value`;
  return undefined;
}

/** Why a map of labels has an invalid key or value, or undefined. */
export function invalidLabels(labels: Readonly<Record<string, string>>): string | undefined {
  for (const [key, value] of Object.entries(labels)) {
    if (!isLabelKey(key)) return `label key ${JSON.stringify(key)} is not a qualified name`;
    if (!isLabelValue(value)) return `label value ${JSON.stringify(value)} of ${key} is not a label value`;
  }
  return undefined;
}
