/**
 * A new leader's learned state: every stored TrafficProfile back into the learner, exactly as of
 * the pass the checkpoint holds (the store loop's transaction, ./store-loop.ts).
 *
 * - The committed pass is the checkpoint's `pass.json`. When the checkpoint ConfigMap is gone it
 *   is rebuilt from the profiles: the newest `covers.base` among them is a pass that was committed
 *   (a profile names a pass as its base only once the checkpoint stored it), with its positions.
 * - A profile of a later pass was written by a pass that never committed (the leader crashed, or
 *   the API server went away, between its profile writes and its checkpoint write): it is rolled
 *   back to its `base`, which is the committed pass, so the sources, resuming from the committed
 *   positions, count that input once. Edges it first learned are kept with no connection counted.
 * - Profiles of earlier passes are exact at the committed pass: a namespace is rewritten whenever
 *   its edges change, and a pass commits only when every changed namespace was written.
 *
 * The learned lost-event count continues from the committed positions (and the committed profiles).
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION } from '../api/meta.js';
import { trafficProfileSchema, type TrafficProfile } from '../api/traffic-profile.js';
import type { Learner } from '../domain/learner.js';
import { LOST_EVENTS_KEY, PASS_KEY, type OperatorCheckpoint } from '../k8s/checkpoint-store.js';
import type { Kube } from '../k8s/kube.js';
import { yieldToEventLoop } from '../runtime/yield.js';
import { restoreProfile, rolledBackRows, rowCountsOf, type RowCounts } from '../domain/learning-state.js';
import type { CommittedState } from './store-loop.js';

export interface RestoredState extends CommittedState {
  /** Edges restored (rows of every profile). */
  readonly edges: number;
  /** The newest pass any profile or the checkpoint names: new passes are numbered after it. */
  readonly newestPass: number;
  /** The checkpoint ConfigMap was missing and was rebuilt from the profiles. */
  readonly checkpointRebuilt: boolean;
  /** `namespace/name` of the profiles rolled back to the committed pass. */
  readonly rolledBack: readonly string[];
}

interface StoredProfile {
  readonly namespace: string;
  readonly name: string;
  readonly spec: TrafficProfile['spec'];
}

/** Loads the checkpoint and every TrafficProfile and restores the learner to the committed pass. */
export async function restoreLearnedState(kube: Kube, learner: Learner, checkpoint: OperatorCheckpoint, log: Logger): Promise<RestoredState> {
  const found = await checkpoint.load();
  const profiles: StoredProfile[] = [];
  const listed = new Set<string>();
  for (const raw of await kube.list<KubernetesObject>(API_VERSION, 'TrafficProfile')) {
    listed.add(`${raw.metadata?.namespace}/${raw.metadata?.name}`);
    const parsed = trafficProfileSchema.safeParse(raw);
    if (parsed.success && parsed.data.metadata.namespace !== undefined) profiles.push({ namespace: parsed.data.metadata.namespace, name: parsed.data.metadata.name, spec: parsed.data.spec });
    else log.warn({ profile: `${raw.metadata?.namespace}/${raw.metadata?.name}` }, 'TrafficProfile does not fit the schema; not restored');
  }
  const checkpointRebuilt = !found && profiles.some((p) => p.spec.covers !== undefined);
  if (checkpointRebuilt) checkpoint.adopt(rebuiltPositions(profiles));
  const pass = Number(checkpoint.read(PASS_KEY) ?? 0) || 0;
  let newestPass = pass;
  let edges = 0;
  let lostEvents = Number(checkpoint.read(LOST_EVENTS_KEY) ?? 0) || 0;
  const rolledBack: string[] = [];
  type NamespaceState = { committed: RowCounts; stored?: { pass: number; rows: RowCounts } };
  const namespaces = new Map<string, NamespaceState>();
  for (const profile of profiles) {
    const { spec, namespace } = profile;
    const covers = spec.covers;
    newestPass = Math.max(newestPass, covers?.pass ?? 0);
    // A profile without `rollback` (written before rollbacks were stored) cannot be undone: taken as is.
    const ahead = covers !== undefined && covers.pass > pass && covers.rollback !== undefined;
    if (ahead && covers.base?.pass !== pass) {
      log.warn({ profile: `${namespace}/${profile.name}`, base: covers.base?.pass, committed: pass }, 'TrafficProfile of an uncommitted pass names another base; rolled back to it');
    }
    const rows = ahead ? rolledBackRows(spec) : spec.edges;
    edges += restoreProfile(learner, spec, namespace, rows);
    if (ahead) rolledBack.push(`${namespace}/${profile.name}`);
    else lostEvents = Math.max(lostEvents, spec.lostEvents);
    const state: NamespaceState = namespaces.get(namespace) ?? { committed: new Map() };
    mergeMax(state.committed, rowCountsOf(spec, rows));
    if (ahead && (state.stored === undefined || covers.pass > state.stored.pass)) state.stored = { pass: covers.pass, rows: rowCountsOf(spec) };
    namespaces.set(namespace, state);
    await yieldToEventLoop();
  }
  learner.stats.lostEvents = Math.max(learner.stats.lostEvents, lostEvents);
  if (rolledBack.length > 0) log.info({ committed: pass, profiles: rolledBack.length }, 'TrafficProfiles of an uncommitted pass rolled back to the committed one');
  return { pass, positions: checkpoint.storedPositions(), namespaces, listed, edges, newestPass, checkpointRebuilt, rolledBack };
}

/**
 * The checkpoint as the profiles know it: the newest committed pass any of them names as its
 * `base` and that pass's positions. Profiles stored before bases were recorded name only their own
 * pass: the newest of those is taken when no base is known.
 */
function rebuiltPositions(profiles: readonly StoredProfile[]): Record<string, string> {
  let best: { pass: number; positions: Record<string, string> } | undefined;
  for (const { spec } of profiles) {
    const base = spec.covers?.base;
    if (base !== undefined && base.pass > 0 && (best === undefined || base.pass > best.pass)) best = base;
  }
  if (best === undefined) {
    for (const { spec } of profiles) {
      const covers = spec.covers;
      if (covers !== undefined && covers.base === undefined && (best === undefined || covers.pass > best.pass)) best = covers;
    }
  }
  return best === undefined ? {} : { ...best.positions, [PASS_KEY]: String(best.pass) };
}

/** `into[key]` becomes the larger count (and last-seen time) of the two. */
function mergeMax(into: Map<string, { count: number; last: number }>, from: RowCounts): void {
  for (const [key, row] of from) {
    const had = into.get(key);
    into.set(key, had === undefined ? row : { count: Math.max(had.count, row.count), last: Math.max(had.last, row.last) });
  }
}
