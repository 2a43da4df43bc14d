/**
 * What a translator returns: the policy objects, and where every model rule landed in them, so
 * the evidence a reviewer reads points at the YAML rule it explains without rendering anything
 * twice.
 */
import type { ModelRule } from '../policy-model.js';
import type { WorkloadPeer } from '../peer.js';
import type { KubernetesObject } from './networkpolicy.js';

/** One model rule's place in the written objects. */
export interface RulePlacement {
  readonly workload: WorkloadPeer;
  /** The name of the workload's policy object. */
  readonly policy: string;
  readonly direction: 'ingress' | 'egress';
  readonly rule: ModelRule;
  /**
   * The rule's position in the policy's `spec.<direction>` list; -1 when the rule needs no YAML
   * (host ingress under NetworkPolicy). Rules that render identically share one position.
   */
  readonly index: number;
}

export interface Translation {
  readonly objects: KubernetesObject[];
  /** Per workload policy, ingress then egress, in model order. */
  readonly placements: RulePlacement[];
}

/**
 * Places rendered rules in a list, identical rules once (first position kept), and records each
 * model rule's index. `render` returns undefined for a rule that needs no YAML.
 */
export function placeRules(
  rules: readonly ModelRule[],
  render: (rule: ModelRule) => Record<string, unknown> | undefined,
  place: (rule: ModelRule, index: number) => void,
  dedupe: boolean,
): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const seen = dedupe ? new Map<string, number>() : undefined;
  for (const rule of rules) {
    const rendered = render(rule);
    if (rendered === undefined) {
      place(rule, -1);
      continue;
    }
    if (seen) {
      const key = JSON.stringify(rendered);
      const at = seen.get(key);
      if (at !== undefined) {
        place(rule, at);
        continue;
      }
      seen.set(key, out.length);
    }
    place(rule, out.length);
    out.push(rendered);
  }
  return out;
}
