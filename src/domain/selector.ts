/**
 * Minimal stable label selectors (docs/architecture.md §4): a selector built only from labels every pod of
 * the workload carries with the same value, never from per-pod or per-revision labels
 * (`pod-template-hash`, `controller-revision-hash`, `statefulset.kubernetes.io/pod-name`,
 * `job-name`, `controller-uid`, `batch.kubernetes.io/*`), that selects no pod of any other
 * workload in the namespace. The fewest labels win; ties go to the conventional identity
 * labels. When no such selector exists, the caller is told why instead of given a guess.
 *
 * "Other workloads' pods" includes the pods they will create: their controllers' pod templates
 * (./catalog.ts), so a Deployment scaled to zero or a CronJob between runs is not selected by
 * another workload's policy once its pods start.
 */
import { isUnstableLabelKey } from './workload.js';

export type Labels = Readonly<Record<string, string>>;

export type SelectorResult =
  | { readonly ok: true; readonly matchLabels: Labels }
  | { readonly ok: false; readonly reason: string };

/** Identity-bearing label keys, most preferred first. Other keys follow in alphabetical order. */
const PREFERRED_KEYS = [
  'app.kubernetes.io/name',
  'app',
  'k8s-app',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/component',
  'component',
  'name',
  'tier',
  'role',
];

const MAX_SELECTOR_LABELS = 4;

/** Kubernetes label selector rule: matchLabels selects a pod iff every key/value pair is in its labels. */
export function matchesLabels(selector: Labels, labels: Labels): boolean {
  for (const key in selector) if (labels[key] !== selector[key]) return false;
  return true;
}

const NONE: readonly Labels[] = Object.freeze([]);

/**
 * A namespace's pods by label pair: a matchLabels selector can only select pods that carry each
 * of its pairs, so checking a candidate selector against the namespace reads the pods carrying
 * one of its pairs, not every pod (a namespace of thousands of pods, asked once per workload).
 */
export class LabelIndex {
  private readonly byPair = new Map<string, Map<string, Labels[]>>();

  constructor(pods: readonly Labels[]) {
    for (const labels of pods) {
      for (const key in labels) {
        let byValue = this.byPair.get(key);
        if (!byValue) this.byPair.set(key, (byValue = new Map()));
        const value = labels[key]!;
        const list = byValue.get(value);
        if (list) list.push(labels);
        else byValue.set(value, [labels]);
      }
    }
  }

  /** The label sets (by reference) with `key` = `value`. */
  carrying(key: string, value: string): readonly Labels[] {
    return this.byPair.get(key)?.get(value) ?? NONE;
  }
}

/**
 * @param own the label sets of the workload's pods
 * @param others the label sets of the other pods in the namespace, or their {@link LabelIndex};
 *   the workload's own label objects may be included (they are recognised by reference and ignored)
 * @param controllerSelector the owner's `spec.selector.matchLabels`, preferred when it is stable
 * @param alsoOwn label sets in `others` that are the workload's own without being its pods' (its
 *   controllers' pod templates): recognised by reference, not used to find the common labels
 */
export function minimalSelector(own: readonly Labels[], others: readonly Labels[] | LabelIndex, controllerSelector?: Labels, alsoOwn: readonly Labels[] = []): SelectorResult {
  if (own.length === 0) return { ok: false, reason: 'no pod of the workload is known' };
  const common = stableCommonLabels(own);
  const keys = Object.keys(common);
  if (keys.length === 0) return { ok: false, reason: 'its pods share no stable label' };
  const index = others instanceof LabelIndex ? others : new LabelIndex(others);
  const ownSet = new Set([...own, ...alsoOwn]);
  // Only pods carrying the selector's first pair can match it.
  const selectsForeign = (selector: Labels, first: string) =>
    index.carrying(first, selector[first]!).some((labels) => !ownSet.has(labels) && matchesLabels(selector, labels));
  const ordered = orderKeys(keys, controllerSelector);
  const limit = Math.min(MAX_SELECTOR_LABELS, ordered.length);
  for (let size = 1; size <= limit; size++) {
    for (const combo of combinations(ordered, size)) {
      const selector = Object.fromEntries(combo.map((k) => [k, common[k]!])) as Labels;
      if (!selectsForeign(selector, combo[0]!)) return { ok: true, matchLabels: sortLabels(selector) };
    }
  }
  if (ordered.length > limit && !selectsForeign(common, ordered[0]!)) {
    return { ok: true, matchLabels: sortLabels(common) };
  }
  return { ok: false, reason: 'every stable label set it has also selects pods of another workload' };
}

/** Labels present with the same value on every pod, minus unstable keys. */
export function stableCommonLabels(own: readonly Labels[]): Record<string, string> {
  const [first, ...rest] = own;
  const common: Record<string, string> = {};
  if (!first) return common;
  for (const [key, value] of Object.entries(first)) {
    if (isUnstableLabelKey(key)) continue;
    if (rest.every((labels) => labels[key] === value)) common[key] = value;
  }
  return common;
}

function orderKeys(keys: readonly string[], controllerSelector?: Labels): string[] {
  const rank = (key: string): number => {
    const preferred = PREFERRED_KEYS.indexOf(key);
    const inController = controllerSelector !== undefined && key in controllerSelector;
    return (preferred >= 0 ? preferred : PREFERRED_KEYS.length) + (inController ? 0 : 100);
  };
  return [...keys].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

function* combinations<T>(items: readonly T[], size: number, start = 0, prefix: T[] = []): Generator<T[]> {
  if (prefix.length === size) {
    yield prefix.slice();
    return;
  }
  for (let i = start; i <= items.length - (size - prefix.length); i++) {
    prefix.push(items[i]!);
    yield* combinations(items, size, i + 1, prefix);
    prefix.pop();
  }
}

export function sortLabels(labels: Labels): Labels {
  return Object.fromEntries(Object.keys(labels).sort().map((k) => [k, labels[k]!]));
}

/** A Kubernetes label selector with `matchLabels` and `matchExpressions`. */
export interface Selector {
  readonly matchLabels?: Labels;
  readonly matchExpressions?: readonly { readonly key: string; readonly operator: string; readonly values?: readonly string[] }[];
}

/**
 * Kubernetes label selector rule: all `matchLabels` pairs and all `matchExpressions` must hold
 * (In, NotIn, Exists, DoesNotExist); an empty selector selects everything.
 */
export function matchesSelector(selector: Selector, labels: Labels): boolean {
  if (selector.matchLabels && !matchesLabels(selector.matchLabels, labels)) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const value = labels[e.key];
    const values = e.values ?? [];
    const ok =
      e.operator === 'In' ? has && values.includes(value!)
      : e.operator === 'NotIn' ? !has || !values.includes(value!)
      : e.operator === 'Exists' ? has
      : e.operator === 'DoesNotExist' ? !has
      : false;
    if (!ok) return false;
  }
  return true;
}
