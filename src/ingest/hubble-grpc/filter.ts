/**
 * GetFlows request filters (`flow.FlowFilter`, proto field names). Pure.
 *
 * Hubble's filter semantics (Cilium pkg/hubble/filters): a request's whitelist matches when ANY
 * of its FlowFilters matches (`FilterFuncs.MatchOne`); inside one FlowFilter ALL set fields must
 * match; the values of one field are alternatives. `source_pod` / `destination_pod` take
 * `namespace/pod-name-prefix` (pkg/hubble/k8s.ParseNamespaceName; filterByNamespacedName in
 * filters/k8s.go), so `shop/` matches every pod of namespace `shop`; an endpoint with neither
 * namespace nor pod name (world, host) never matches.
 */

/** The subset of `flow.FlowFilter` hivewall sends, keyed by proto field name. */
export interface FlowFilterObject {
  readonly source_pod?: readonly string[];
  readonly destination_pod?: readonly string[];
  readonly source_label?: readonly string[];
  readonly destination_label?: readonly string[];
  readonly node_name?: readonly string[];
  readonly verdict?: readonly string[];
  readonly reply?: readonly boolean[];
}

/** RFC 1123 label: what a Kubernetes namespace name must be (at most 63 characters). */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The whitelist for "flows where the source OR the destination pod is in one of `namespaces`":
 * two FlowFilters, `{source_pod: [ns/, ...]}` and `{destination_pod: [ns/, ...]}`, sorted and
 * without duplicates. An empty list gives no whitelist (every flow). Throws on a name that is not
 * a valid namespace (a `/` in it would change the filter's meaning).
 *
 * `replies: false` adds `reply: [false]` to every filter (one `{reply: [false]}` filter when no
 * namespace is given): Hubble then sends no reply flows (pkg/hubble/filters/reply.go
 * filterByReplyField; a flow whose reply status is unknown is sent only when DROPPED).
 */
export function namespaceWhitelist(namespaces: readonly string[], options: { readonly replies?: boolean } = {}): FlowFilterObject[] {
  for (const ns of namespaces) {
    if (ns.length > 63 || !NAMESPACE.test(ns)) throw new Error(`invalid namespace name for a Hubble filter: ${JSON.stringify(ns)}`);
  }
  const prefixes = [...new Set(namespaces)].sort().map((ns) => `${ns}/`);
  const reply = options.replies === false ? { reply: [false] } : {};
  if (prefixes.length === 0) return options.replies === false ? [reply] : [];
  return [{ source_pod: prefixes, ...reply }, { destination_pod: prefixes, ...reply }];
}
