/**
 * Kubernetes label selectors (`metav1.LabelSelector`), shared by NetworkPolicy and Cilium
 * endpoint selectors.
 *
 * Kubernetes, "Labels and Selectors": "The requirements of matchLabels and matchExpressions are
 * ANDed together"; "matchLabels is a map of {key,value} pairs. A single {key,value} in the
 * matchLabels map is equivalent to an element of matchExpressions, whose key field is "key", the
 * operator is "In", and the values array contains only "value""; "An empty label selector (that is,
 * one with zero matchLabels and zero matchExpressions) matches all objects."
 */
import type { LabelSelector, LabelSelectorRequirement, Labels } from './model.js';

/** Maps a selector key onto the key space of the labels being matched (identity for Kubernetes). */
export type KeyMapper = (key: string) => string;

const identity: KeyMapper = (key) => key;

function list<T>(value: readonly T[] | null | undefined): readonly T[] {
  return Array.isArray(value) ? value : [];
}

/** The `matchLabels` map; YAML may type a value as a number or boolean, which the API treats as text. */
function matchLabelEntries(selector: LabelSelector): [string, string][] {
  const matchLabels = selector.matchLabels;
  if (matchLabels === null || matchLabels === undefined || typeof matchLabels !== 'object') return [];
  return Object.entries(matchLabels).map(([key, value]) => [key, String(value)]);
}

/**
 * One `matchExpressions` requirement, per the LabelSelectorRequirement API: "operator represents a
 * key's relationship to a set of values. Valid operators are In, NotIn, Exists and DoesNotExist."
 * `In`: the label is present and its value is listed. `NotIn`: the label is absent or its value is not
 * listed. `Exists` / `DoesNotExist`: presence of the key. An unknown operator matches nothing (the API
 * server rejects it).
 */
export function requirementMatches(requirement: LabelSelectorRequirement, labels: Labels, keyOf: KeyMapper = identity): boolean {
  if (typeof requirement !== 'object' || requirement === null || typeof requirement.key !== 'string') return false;
  const key = keyOf(requirement.key);
  const present = Object.hasOwn(labels, key);
  const value = present ? labels[key] : undefined;
  const values = list(requirement.values).map(String);
  switch (requirement.operator) {
    case 'In':
      return present && value !== undefined && values.includes(value);
    case 'NotIn':
      return !present || value === undefined || !values.includes(value);
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
    default:
      return false;
  }
}

/**
 * True when `labels` satisfy `selector`. An absent or empty selector matches everything, which is
 * right for `spec.podSelector` ("If it is not specified, it defaults to an empty selector") and for
 * `{}` peers; callers that must tell "absent" from "empty" (NetworkPolicyPeer) check presence first.
 */
export function selectorMatches(selector: LabelSelector | null | undefined, labels: Labels, keyOf: KeyMapper = identity): boolean {
  if (selector === null || selector === undefined) return true;
  for (const [key, value] of matchLabelEntries(selector)) {
    const mapped = keyOf(key);
    if (!Object.hasOwn(labels, mapped) || labels[mapped] !== value) return false;
  }
  return list(selector.matchExpressions).every((requirement) => requirementMatches(requirement, labels, keyOf));
}

/** Every key a selector constrains (matchLabels and matchExpressions), mapped by `keyOf`. */
export function selectorKeys(selector: LabelSelector | null | undefined, keyOf: KeyMapper = identity): string[] {
  if (selector === null || selector === undefined) return [];
  const expressionKeys = list(selector.matchExpressions).flatMap((r) => (typeof r?.key === 'string' ? [keyOf(r.key)] : []));
  return [...matchLabelEntries(selector).map(([key]) => keyOf(key)), ...expressionKeys];
}

/** Renders a selector for explanations: `{role=db, tier in (a,b)}`, `{}` for everything. */
export function describeSelector(selector: LabelSelector | null | undefined): string {
  if (selector === null || selector === undefined) return '{}';
  const parts = matchLabelEntries(selector).map(([key, value]) => `${key}=${value}`);
  for (const requirement of list(selector.matchExpressions)) {
    const values = list(requirement.values).join(',');
    switch (requirement.operator) {
      case 'Exists':
        parts.push(requirement.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${requirement.key}`);
        break;
      default:
        parts.push(`${requirement.key} ${requirement.operator.toLowerCase()} (${values})`);
    }
  }
  return `{${parts.join(', ')}}`;
}
