/**
 * A deterministic, namespace-clustered, layered layout for the report graph: traffic runs left
 * to right, each namespace is one horizontal band, and what is outside the cluster sits above
 * (clients: the world, the node) or below (destinations: external services, the API server).
 *
 * 1. Ranks (columns): longest path from the clients, cycles broken by a depth-first search in
 *    input order; a pure client sits one column before its nearest server.
 * 2. Bands (rows): one per namespace, ordered by mean column; namespaces whose column ranges do not
 *    overlap share a band, so a small namespace does not cost a whole row.
 * 3. Cells: the nodes of one namespace in one column, stacked at most MAX_ROWS high (then wrapped
 *    into sub-columns), ordered by the barycentre of their neighbours to reduce crossings.
 * Nothing is random and every tie is broken by input order, so the same graph always gives the
 * same coordinates; they are rounded to 0.1 so floating-point noise never changes output bytes.
 */

export interface LayoutNode {
  readonly id: string;
  /** Namespace (cluster) of a workload; entities have none. */
  readonly group?: string;
}

export interface LayoutEdge {
  readonly source: string;
  readonly target: string;
}

export interface Point {
  readonly x: number;
  readonly y: number;
}

/** Horizontal and vertical distance between node centres in one cell, in page units. */
export const CELL = { width: 176, height: 80 } as const;
/** Extra space between columns, for edge labels. */
export const COLUMN_GAP = 64;
/** Space between bands: the namespace boxes' padding and labels. */
export const BAND_GAP = 72;
/** At most this many nodes stacked in one cell before it wraps into another sub-column. */
export const MAX_ROWS = 4;

const SOURCES = '\u0000clients';
const SINKS = '\u0000destinations';

export function layoutGraph(nodes: readonly LayoutNode[], edges: readonly LayoutEdge[]): Map<string, Point> {
  const n = nodes.length;
  const result = new Map<string, Point>();
  if (n === 0) return result;
  const index = new Map(nodes.map((node, i) => [node.id, i]));
  const out: number[][] = nodes.map(() => []);
  const inc: number[][] = nodes.map(() => []);
  const seen = new Set<string>();
  for (const e of edges) {
    const a = index.get(e.source);
    const b = index.get(e.target);
    if (a === undefined || b === undefined || a === b || seen.has(`${a} ${b}`)) continue;
    seen.add(`${a} ${b}`);
    out[a]!.push(b);
    inc[b]!.push(a);
  }

  const rank = assignRanks(n, out, inc);

  // Bands.
  const bandKey = nodes.map((node, i) => node.group ?? (inc[i]!.length === 0 ? SOURCES : SINKS));
  const groups = [...new Set(nodes.flatMap((node) => (node.group === undefined ? [] : [node.group])))];
  const span = new Map<string, { lo: number; hi: number; mean: number }>();
  for (const g of groups) {
    const ranks = nodes.flatMap((node, i) => (node.group === g ? [rank[i]!] : []));
    span.set(g, { lo: Math.min(...ranks), hi: Math.max(...ranks), mean: ranks.reduce((a, r) => a + r, 0) / ranks.length });
  }
  groups.sort((a, b) => span.get(a)!.mean - span.get(b)!.mean || (a < b ? -1 : a > b ? 1 : 0));
  const bands: string[][] = [];
  if (bandKey.includes(SOURCES)) bands.push([SOURCES]);
  const namespaceBands: string[][] = [];
  for (const g of groups) {
    const s = span.get(g)!;
    const fits = namespaceBands.find((band) => band.every((other) => s.hi < span.get(other)!.lo || s.lo > span.get(other)!.hi));
    if (fits) fits.push(g);
    else namespaceBands.push([g]);
  }
  bands.push(...namespaceBands);
  if (bandKey.includes(SINKS)) bands.push([SINKS]);
  const bandOf = new Map<string, number>();
  bands.forEach((band, b) => band.forEach((key) => bandOf.set(key, b)));

  // Cells, in input order to start with.
  const maxRank = Math.max(...rank);
  const cells = new Map<string, number[]>();
  const cellKey = (band: number, r: number) => `${band}:${r}`;
  for (let i = 0; i < n; i++) {
    const key = cellKey(bandOf.get(bandKey[i]!)!, rank[i]!);
    const cell = cells.get(key);
    if (cell) cell.push(i);
    else cells.set(key, [i]);
  }

  // Geometry that does not depend on the order inside cells.
  const subColumns = (count: number) => Math.ceil(count / MAX_ROWS);
  const columnWidth: number[] = [];
  for (let r = 0; r <= maxRank; r++) {
    let widest = 1;
    for (let b = 0; b < bands.length; b++) widest = Math.max(widest, subColumns(cells.get(cellKey(b, r))?.length ?? 0));
    columnWidth.push(widest * CELL.width);
  }
  const columnX: number[] = [];
  let x = 0;
  for (let r = 0; r <= maxRank; r++) {
    columnX.push(x);
    x += columnWidth[r]! + COLUMN_GAP;
  }
  const bandTop: number[] = [];
  const bandHeight: number[] = [];
  let y = 0;
  for (let b = 0; b < bands.length; b++) {
    let rows = 1;
    for (let r = 0; r <= maxRank; r++) rows = Math.max(rows, Math.min(MAX_ROWS, cells.get(cellKey(b, r))?.length ?? 0));
    bandTop.push(y);
    bandHeight.push(rows * CELL.height);
    y += rows * CELL.height + BAND_GAP;
  }

  const px = new Float64Array(n);
  const py = new Float64Array(n);
  const place = (band: number, r: number, cell: readonly number[]) => {
    const subs = subColumns(cell.length);
    const left = columnX[r]! + (columnWidth[r]! - subs * CELL.width) / 2;
    for (let s = 0; s < subs; s++) {
      const column = cell.slice(s * MAX_ROWS, (s + 1) * MAX_ROWS);
      const top = bandTop[band]! + (bandHeight[band]! - column.length * CELL.height) / 2;
      column.forEach((node, row) => {
        px[node] = left + (s + 0.5) * CELL.width;
        py[node] = top + (row + 0.5) * CELL.height;
      });
    }
  };
  const placeAll = () => {
    for (const [key, cell] of cells) {
      const [band, r] = key.split(':').map(Number) as [number, number];
      place(band, r, cell);
    }
  };
  placeAll();

  // Crossing reduction: sort each cell by the mean height of its neighbours, sweeping right then left.
  const cellList = [...cells.entries()].map(([key, cell]) => {
    const [band, r] = key.split(':').map(Number) as [number, number];
    return { band, r, cell };
  });
  for (let sweep = 0; sweep < 6; sweep++) {
    const forward = sweep % 2 === 0;
    const order = [...cellList].sort((a, b) => (forward ? a.r - b.r : b.r - a.r) || a.band - b.band);
    for (const c of order) {
      if (c.cell.length < 2) continue;
      const keyOf = new Map<number, number>();
      c.cell.forEach((node, position) => {
        const neighbours = [...out[node]!, ...inc[node]!].filter((m) => rank[m] !== rank[node] || bandOf.get(bandKey[m]!) !== c.band);
        keyOf.set(node, neighbours.length > 0 ? neighbours.reduce((a, m) => a + py[m]!, 0) / neighbours.length : py[node]!);
        // Stable: equal keys keep their position.
        keyOf.set(node, keyOf.get(node)! + position * 1e-6);
      });
      c.cell.sort((a, b) => keyOf.get(a)! - keyOf.get(b)!);
      place(c.band, c.r, c.cell);
    }
  }

  // Centre on the origin and round.
  const cx = x > 0 ? (x - COLUMN_GAP) / 2 : 0;
  const cy = y > 0 ? (y - BAND_GAP) / 2 : 0;
  nodes.forEach((node, i) => result.set(node.id, { x: round(px[i]! - cx), y: round(py[i]! - cy) }));
  return result;
}

/**
 * Columns by longest path from the clients. Back edges found by a depth-first search (roots in
 * input order, clients first) are ignored, so cycles cannot make ranks grow without bound.
 */
function assignRanks(n: number, out: readonly number[][], inc: readonly number[][]): number[] {
  const state = new Uint8Array(n); // 0 new, 1 on stack, 2 done
  const back = new Set<string>();
  const roots = [...Array(n).keys()].sort((a, b) => (inc[a]!.length === 0 ? 0 : 1) - (inc[b]!.length === 0 ? 0 : 1) || a - b);
  for (const root of roots) {
    if (state[root] !== 0) continue;
    const stack: [number, number][] = [[root, 0]];
    state[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const [v, next] = top;
      if (next < out[v]!.length) {
        top[1]++;
        const w = out[v]![next]!;
        if (state[w] === 1) back.add(`${v} ${w}`);
        else if (state[w] === 0) {
          state[w] = 1;
          stack.push([w, 0]);
        }
      } else {
        state[v] = 2;
        stack.pop();
      }
    }
  }
  const preds = inc.map((list, v) => list.filter((u) => !back.has(`${u} ${v}`)));
  const succs = out.map((list, u) => list.filter((v) => !back.has(`${u} ${v}`)));
  // Kahn's algorithm, smallest index first.
  const indegree = preds.map((p) => p.length);
  const ready = [...Array(n).keys()].filter((v) => indegree[v] === 0);
  const rank = new Array<number>(n).fill(0);
  const topo: number[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => a - b);
    const v = ready.shift()!;
    topo.push(v);
    for (const w of succs[v]!) {
      rank[w] = Math.max(rank[w]!, rank[v]! + 1);
      if (--indegree[w]! === 0) ready.push(w);
    }
  }
  // A pure client sits just before its nearest server, not always in the first column.
  for (const v of topo) {
    if (preds[v]!.length === 0 && succs[v]!.length > 0) rank[v] = Math.max(0, Math.min(...succs[v]!.map((w) => rank[w]!)) - 1);
  }
  return rank;
}

function round(v: number): number {
  const r = Math.round(v * 10) / 10;
  return Object.is(r, -0) ? 0 : r;
}

/** The space a drawn node and its label take around its centre, which edges should not cross. */
const NODE_CLEARANCE = { left: 28, right: 28, top: 26, bottom: 42 } as const;
/** Offsets (graph units, perpendicular at the edge's middle) tried to bend an edge around nodes. */
const BEND_STEPS = [0, 56, -56, 96, -96, 140, -140, 190, -190, 250, -250];
/** Spacing between parallel edges of one pair of nodes. */
const PARALLEL_STEP = 34;

/**
 * How far to bend each edge so that it does not run under a node it does not connect: the
 * perpendicular distance of one control point at the middle of a quadratic Bézier curve (what
 * cytoscape's `unbundled-bezier` edges with `control-point-weights: 0.5` and `edge-distances:
 * node-position` draw). Edges between the same two nodes are spread apart. 0 is straight.
 */
export function edgeBends(pos: ReadonlyMap<string, Point>, edges: readonly LayoutEdge[]): number[] {
  const CELL_SIZE = 200;
  const grid = new Map<string, { id: string; p: Point }[]>();
  for (const [id, p] of pos) {
    const key = `${Math.floor(p.x / CELL_SIZE)},${Math.floor(p.y / CELL_SIZE)}`;
    const cell = grid.get(key);
    if (cell) cell.push({ id, p });
    else grid.set(key, [{ id, p }]);
  }
  const blocked = (x: number, y: number, a: string, b: string): boolean => {
    const gx = Math.floor(x / CELL_SIZE);
    const gy = Math.floor(y / CELL_SIZE);
    for (let i = -1; i <= 1; i++) {
      for (let j = -1; j <= 1; j++) {
        for (const { id, p } of grid.get(`${gx + i},${gy + j}`) ?? []) {
          if (id === a || id === b) continue;
          if (x > p.x - NODE_CLEARANCE.left && x < p.x + NODE_CLEARANCE.right && y > p.y - NODE_CLEARANCE.top && y < p.y + NODE_CLEARANCE.bottom) return true;
        }
      }
    }
    return false;
  };
  const hits = (s: Point, t: Point, d: number, a: string, b: string): number => {
    const dx = t.x - s.x;
    const dy = t.y - s.y;
    const len = Math.hypot(dx, dy) || 1;
    const cx = (s.x + t.x) / 2 - (dy / len) * d;
    const cy = (s.y + t.y) / 2 + (dx / len) * d;
    let count = 0;
    for (let k = 1; k < 24; k++) {
      const u = k / 24;
      const x = (1 - u) * (1 - u) * s.x + 2 * (1 - u) * u * cx + u * u * t.x;
      const y = (1 - u) * (1 - u) * s.y + 2 * (1 - u) * u * cy + u * u * t.y;
      if (blocked(x, y, a, b)) count++;
    }
    return count;
  };
  // Parallel edges: position within the group of edges between the same two nodes (either way).
  const pairKey = (e: LayoutEdge) => (e.source < e.target ? `${e.source}\u0000${e.target}` : `${e.target}\u0000${e.source}`);
  const groupSize = new Map<string, number>();
  for (const e of edges) groupSize.set(pairKey(e), (groupSize.get(pairKey(e)) ?? 0) + 1);
  const seenInGroup = new Map<string, number>();
  return edges.map((e) => {
    const s = pos.get(e.source);
    const t = pos.get(e.target);
    if (!s || !t || e.source === e.target) return 0;
    const key = pairKey(e);
    const k = seenInGroup.get(key) ?? 0;
    seenInGroup.set(key, k + 1);
    // The same side for the whole group: measured from the pair's first node.
    const flip = e.source < e.target ? 1 : -1;
    const base = (k - ((groupSize.get(key) ?? 1) - 1) / 2) * PARALLEL_STEP * flip;
    let best = base;
    let bestHits = Infinity;
    for (const step of BEND_STEPS) {
      const d = base + step * (base === 0 ? 1 : Math.sign(base));
      const n = hits(s, t, d, e.source, e.target);
      if (n < bestHits) {
        best = d;
        bestHits = n;
      }
      if (n === 0) break;
    }
    return round(best);
  });
}
