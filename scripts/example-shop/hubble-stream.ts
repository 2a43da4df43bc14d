/**
 * The Hubble export stream: one `observer.ExportEvent` JSON object per line, in time order, over
 * the capture window — flows, two lost-event notices on node-b (whose lost flows are really
 * missing) and one node-status event. Serialized like Go protojson, which (detrand) sometimes
 * writes `"key": value` instead of `"key":value` — about 1 % of the lines here.
 */
import type { Conn } from './conn.js';
import { hubbleFlows, type HubbleEvent } from './hubble.js';
import { rngFor } from './rand.js';
import { MIN, SEC, WINDOW_END, protoTime } from './time.js';

type Obj = Record<string, unknown>;

interface Line {
  t: number;
  order: number;
  envelope: Obj;
}

/** JSON with `"key": value` spacing when `spaced` (protojson's randomized whitespace). */
export function protojson(value: unknown, spaced: boolean): string {
  if (Array.isArray(value)) return `[${value.map((v) => protojson(v, spaced)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const sep = spaced ? ': ' : ':';
    return `{${Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => `${JSON.stringify(k)}${sep}${protojson(v, spaced)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const LOST = [
  { t: 17 * MIN + 42 * SEC + 100_417_662, cpu: 1 },
  { t: 48 * MIN + 9 * SEC + 512_004_118, cpu: 3 },
];
const LOST_PER_NOTICE = 12;
const NODE_C_CONNECTED = 431_775_020;

/** Flows the ring-buffer loss may take: only of the busiest pairs, so every edge stays visible. */
function expendable(c: Conn): boolean {
  return !c.dns && (c.client.kind === 'world' || (c.client.kind === 'pod' && c.client.pod.app.name === 'frontend'));
}

export interface HubbleStream {
  lines: string[];
  /** Index of the first line at/after the rotation instant. */
  rotateAt: number;
  flows: number;
}

export function hubbleStream(conns: readonly Conn[], rotationNs: number): HubbleStream {
  const rng = rngFor('hubble-flows');
  let events: HubbleEvent[] = [];
  for (const c of conns) events.push(...hubbleFlows(rng, c));
  events = events.filter((e) => e.t >= 0 && e.t < WINDOW_END);
  events.sort((a, b) => a.t - b.t || a.conn.seq - b.conn.seq);

  // Ring-buffer loss on node-b: the LOST_PER_NOTICE expendable node-b flows just before each notice vanish.
  const lost = new Set<HubbleEvent>();
  for (const notice of LOST) {
    const before = events.filter((e) => e.node === 'node-b' && e.t < notice.t && expendable(e.conn));
    for (const e of before.slice(-LOST_PER_NOTICE)) lost.add(e);
  }
  const lines: Line[] = events.filter((e) => !lost.has(e)).map((e, i) => {
    const time = protoTime(e.t);
    e.flow['time'] = time;
    return { t: e.t, order: i, envelope: { flow: e.flow, node_name: e.node, time } };
  });
  const flows = lines.length;
  for (const notice of LOST) {
    lines.push({
      t: notice.t, order: -1,
      envelope: {
        lost_events: { source: 'PERF_EVENT_RING_BUFFER', num_events_lost: String(LOST_PER_NOTICE), cpu: notice.cpu },
        node_name: 'node-b', time: protoTime(notice.t),
      },
    });
  }
  lines.push({
    t: NODE_C_CONNECTED, order: -1,
    envelope: { node_status: { state_change: 'NODE_CONNECTED', node_names: ['node-c'] }, node_name: 'node-c', time: protoTime(NODE_C_CONNECTED) },
  });
  lines.sort((a, b) => a.t - b.t || a.order - b.order);
  const spacing = rngFor('protojson-spacing');
  const out = lines.map((l) => protojson(l.envelope, spacing.chance(0.01)));
  const rotateAt = lines.findIndex((l) => l.t >= rotationNs);
  return { lines: out, rotateAt: rotateAt < 0 ? out.length : rotateAt, flows };
}
