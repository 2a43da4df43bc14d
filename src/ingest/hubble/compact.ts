/**
 * A compact, transferable form of a run of {@link ParseResult}s, for the parser threads of
 * ./parallel.ts: a parser thread encodes each byte range's results into typed arrays (one row of
 * numbers per line) plus the strings and endpoint hints it has not sent before, and the main thread
 * decodes them back into results equal to the ones encoded. The typed arrays are transferred, not
 * copied; what is structured-cloned is only what is new (an address, a pod's labels: once per
 * thread) and the rare rows that do not fit the numbers (non-flow lines, skips, DNS answers,
 * `destination_names`, `denied_by`), and the bytes of the lines the scanner left to the full parser,
 * which the decoder's thread parses (a parser thread does not load it: ./ranges.ts). Decoded flows
 * share their endpoints' labels arrays and workload objects by id, as the scanner's own results
 * share them (./scan-cache.ts).
 *
 * One {@link CompactEncoder} per thread and one {@link CompactDecoder} for it on the main thread;
 * batches must be decoded in the order they were taken (the tables grow batch by batch).
 */
import type { EndpointHint, Flow, FlowEndpoint, ParseResult } from '../../domain/flow.js';
import { endpointOf } from './build.js';

/** Numbers per row of {@link CompactBatch.rows}: the columns below (strings and hints by id, -1: absent). */
const F = 14;
const TAG = 0;
const SRC_IP = 1;
const SRC_PORT = 2;
const SRC_HINT = 3;
const DST_IP = 4;
const DST_PORT = 5;
const DST_HINT = 6;
const PROTOCOL = 7;
const VERDICT = 8;
const NODE = 9;
const POINT = 10;
const DIRECTION = 11;
const DROP_REASON = 12;
/** Index into {@link CompactBatch.extras}, or -1. */
const EXTRA = 13;

/** A flow row (`isReply` false / true), a row whose whole result is an extra, or one whose extra is a line to parse. */
const TAG_FLOW = 0;
const TAG_REPLY = 1;
const TAG_OTHER = 2;
const TAG_UNSCANNED = 3;

/** Past this many strings or hints a thread starts its tables afresh (memory stays bounded). */
const TABLE_LIMIT = 1 << 18;

/** What a flow row cannot hold in numbers. */
interface FlowExtra {
  readonly destinationNames?: readonly string[];
  readonly dnsAnswer?: Flow['dnsAnswer'];
  readonly deniedBy?: readonly string[];
}

/** One range's results; `times` and `rows` go in the transfer list. */
export interface CompactBatch {
  readonly count: number;
  readonly times: Float64Array;
  readonly rows: Int32Array;
  /** The decoder forgets its tables before this batch. */
  readonly reset: boolean;
  /** Strings first used in this batch: ids continue the decoder's table. */
  readonly strings: readonly string[];
  /** Endpoint hints first used in this batch (labels as ids into {@link labels}). */
  readonly hints: readonly EncodedHint[];
  /** Label lists first used in this batch. */
  readonly labels: readonly (readonly string[])[];
  /** Whole results (tag other), lines to parse (tag unscanned) and flow extras, as referenced by rows. */
  readonly extras: readonly unknown[];
}

/** An endpoint hint with its labels by id (-1: none). */
export interface EncodedHint {
  readonly namespace?: string;
  readonly podName?: string;
  readonly labels: number;
  readonly workload?: { readonly kind: string; readonly name: string };
  readonly reserved?: EndpointHint['reserved'];
  readonly identity?: number;
}

/** An interned hint with the fields it is recognised by. */
interface HintEntry {
  readonly namespace: string | undefined;
  readonly podName: string | undefined;
  readonly kind: string | undefined;
  readonly name: string | undefined;
  readonly reserved: string | undefined;
  readonly identity: number | undefined;
  readonly id: number;
}

function sameHint(e: HintEntry, ep: FlowEndpoint): boolean {
  return e.namespace === ep.namespace && e.podName === ep.podName && e.identity === ep.identity && e.reserved === ep.reserved
    && e.kind === ep.workload?.kind && e.name === ep.workload?.name;
}

/** Endpoints without labels (reserved entities, mostly) recognised by comparison, before the key map. */
const UNLABELLED_SCAN = 16;

/** Encodes results, a batch at a time (parser thread side). */
export class CompactEncoder {
  private readonly tableLimit: number;
  private times = new Float64Array(1024);
  private rows = new Int32Array(1024 * F);
  private count = 0;
  private strings = new Map<string, number>();
  private newStrings: string[] = [];
  /** Labels lists by array identity (the scanner shares them per endpoint) and by content. */
  private labelsByArray = new Map<readonly string[], number>();
  private labelsByContent = new Map<string, number>();
  private newLabels: (readonly string[])[] = [];
  private labelCount = 0;
  /**
   * Hints: the last one seen per labels array (the scanner shares one array per endpoint it
   * caches, so this finds nearly every hint by identity), a few without labels, then by key string.
   */
  private hintByLabels = new Map<readonly string[], HintEntry>();
  private unlabelled: HintEntry[] = [];
  private hintsByKey = new Map<string, number>();
  private newHints: EncodedHint[] = [];
  private extras: unknown[] = [];
  private reset = false;
  /** Per row column: the last string and its id ({@link column}). */
  private readonly lastString: (string | undefined)[] = new Array<string | undefined>(F).fill(undefined);
  private readonly lastId = new Int32Array(F);

  /** @param tableLimit strings, labels lists or hints past which the tables start afresh (tests lower it) */
  constructor(tableLimit = TABLE_LIMIT) {
    this.tableLimit = tableLimit;
  }

  add(result: ParseResult): void {
    const n = this.count;
    if (n === this.times.length) this.grow();
    this.count = n + 1;
    const base = n * F;
    const rows = this.rows;
    if (result.kind !== 'flow' || !plain(result.flow)) {
      this.times[n] = 0;
      rows[base + TAG] = TAG_OTHER;
      rows[base + EXTRA] = this.extras.push(result) - 1;
      return;
    }
    const flow = result.flow;
    this.times[n] = flow.time;
    rows[base + TAG] = flow.isReply ? TAG_REPLY : TAG_FLOW;
    const source = flow.source;
    const destination = flow.destination;
    rows[base + SRC_IP] = this.column(SRC_IP, source.ip);
    rows[base + SRC_PORT] = source.port;
    rows[base + SRC_HINT] = this.hint(source);
    rows[base + DST_IP] = this.column(DST_IP, destination.ip);
    rows[base + DST_PORT] = destination.port;
    rows[base + DST_HINT] = this.hint(destination);
    rows[base + PROTOCOL] = this.column(PROTOCOL, flow.protocol);
    rows[base + VERDICT] = this.column(VERDICT, flow.verdict);
    rows[base + NODE] = flow.node === undefined ? -1 : this.column(NODE, flow.node);
    rows[base + POINT] = flow.observationPoint === undefined ? -1 : this.column(POINT, flow.observationPoint);
    rows[base + DIRECTION] = flow.trafficDirection === undefined ? -1 : this.column(DIRECTION, flow.trafficDirection);
    rows[base + DROP_REASON] = flow.dropReason === undefined ? -1 : this.column(DROP_REASON, flow.dropReason);
    if (flow.destinationNames === undefined && flow.dnsAnswer === undefined && flow.deniedBy === undefined) {
      rows[base + EXTRA] = -1;
    } else {
      const extra: { -readonly [K in keyof FlowExtra]: FlowExtra[K] } = {};
      if (flow.destinationNames !== undefined) extra.destinationNames = flow.destinationNames;
      if (flow.dnsAnswer !== undefined) extra.dnsAnswer = flow.dnsAnswer;
      if (flow.deniedBy !== undefined) extra.deniedBy = flow.deniedBy;
      rows[base + EXTRA] = this.extras.push(extra) - 1;
    }
  }

  /** A line the scanner left to the full parser: its bytes go as they are (copied), parsed by the decoder. */
  addUnscanned(line: Uint8Array): void {
    const n = this.count;
    if (n === this.times.length) this.grow();
    this.count = n + 1;
    this.times[n] = 0;
    this.rows[n * F + TAG] = TAG_UNSCANNED;
    // A copy of just the line: a view would send (and keep) the whole read block.
    this.rows[n * F + EXTRA] = this.extras.push(new Uint8Array(line)) - 1;
  }

  /** The results added since the last take; `transfer` lists the buffers to hand over. */
  take(): { batch: CompactBatch; transfer: ArrayBuffer[] } {
    const n = this.count;
    const times = this.times.length === n ? this.times : this.times.slice(0, n);
    const rows = this.rows.length === n * F ? this.rows : this.rows.slice(0, n * F);
    const batch: CompactBatch = {
      count: n,
      times,
      rows,
      reset: this.reset,
      strings: this.newStrings,
      hints: this.newHints,
      labels: this.newLabels,
      extras: this.extras,
    };
    this.count = 0;
    this.newStrings = [];
    this.newHints = [];
    this.newLabels = [];
    this.extras = [];
    this.reset = false;
    if (this.strings.size > this.tableLimit || this.hintsByKey.size > this.tableLimit || this.labelCount > this.tableLimit) this.forget();
    if (times === this.times) this.times = new Float64Array(this.times.length);
    if (rows === this.rows) this.rows = new Int32Array(this.rows.length);
    return { batch, transfer: [times.buffer as ArrayBuffer, rows.buffer as ArrayBuffer] };
  }

  /** Starts the tables afresh; the next batch tells the decoder to do the same. */
  private forget(): void {
    this.lastString.fill(undefined);
    this.strings.clear();
    this.labelsByArray.clear();
    this.labelsByContent.clear();
    this.labelCount = 0;
    this.hintByLabels.clear();
    this.unlabelled = [];
    this.hintsByKey.clear();
    this.reset = true;
  }

  private grow(): void {
    const times = new Float64Array(this.times.length * 2);
    times.set(this.times);
    const rows = new Int32Array(this.rows.length * 2);
    rows.set(this.rows);
    this.times = times;
    this.rows = rows;
  }

  /**
   * The id of a column's string, remembering the column's last one: most columns repeat from line
   * to line (node, verdict, protocol), and the scanner hands over the same string object then.
   */
  private column(col: number, s: string): number {
    if (this.lastString[col] === s) return this.lastId[col]!;
    const id = this.string(s);
    this.lastString[col] = s;
    this.lastId[col] = id;
    return id;
  }

  private string(s: string): number {
    let id = this.strings.get(s);
    if (id === undefined) {
      id = this.strings.size;
      this.strings.set(s, id);
      this.newStrings.push(s);
    }
    return id;
  }

  private labelsId(labels: readonly string[]): number {
    let id = this.labelsByArray.get(labels);
    if (id !== undefined) return id;
    // JSON, not a join: [] and [''] (and ['a\nb'] and ['a', 'b']) must not share an id.
    const content = JSON.stringify(labels);
    id = this.labelsByContent.get(content);
    if (id === undefined) {
      id = this.labelCount++;
      this.labelsByContent.set(content, id);
      this.newLabels.push(labels);
    }
    if (this.labelsByArray.size >= TABLE_LIMIT) this.labelsByArray.clear();
    this.labelsByArray.set(labels, id);
    return id;
  }

  /** The id of the endpoint's hint (everything but its address and port), -1 when it has none. */
  private hint(ep: FlowEndpoint): number {
    const { namespace, podName, labels, workload, reserved, identity } = ep;
    if (labels === undefined) {
      if (namespace === undefined && podName === undefined && workload === undefined && reserved === undefined && identity === undefined) return -1;
      for (const e of this.unlabelled) if (sameHint(e, ep)) return e.id;
    } else {
      const last = this.hintByLabels.get(labels);
      if (last !== undefined && sameHint(last, ep)) return last.id;
    }
    const labelsId = labels === undefined ? -1 : this.labelsId(labels);
    const kind = workload?.kind;
    const name = workload?.name;
    const key = JSON.stringify([labelsId, namespace, podName, identity, reserved, kind, name]);
    let id = this.hintsByKey.get(key);
    if (id === undefined) {
      id = this.hintsByKey.size;
      this.hintsByKey.set(key, id);
      const encoded: { -readonly [K in keyof EncodedHint]: EncodedHint[K] } = { labels: labelsId };
      if (namespace !== undefined) encoded.namespace = namespace;
      if (podName !== undefined) encoded.podName = podName;
      if (workload !== undefined) encoded.workload = { kind: workload.kind, name: workload.name };
      if (reserved !== undefined) encoded.reserved = reserved;
      if (identity !== undefined) encoded.identity = identity;
      this.newHints.push(encoded);
    }
    const entry: HintEntry = { namespace, podName, kind, name, reserved, identity, id };
    if (labels !== undefined) {
      if (this.hintByLabels.size >= TABLE_LIMIT) this.hintByLabels.clear();
      this.hintByLabels.set(labels, entry);
    } else if (this.unlabelled.length < UNLABELLED_SCAN) this.unlabelled.push(entry);
    return id;
  }
}

/**
 * Whether a row rebuilds this flow exactly: the Hubble builder's flows (src/ingest/hubble/build.ts)
 * always do; conntrack's own fields, or a port beyond 31 bits, send the flow whole as an extra.
 */
function plain(flow: Flow): boolean {
  const sp = flow.source.port;
  const dp = flow.destination.port;
  return flow.confirmed && flow.connectionState === undefined && flow.ended === undefined
    && (sp | 0) === sp && sp >= 0 && (dp | 0) === dp && dp >= 0;
}

/** Decodes one encoder's batches, in order (main thread side). */
export class CompactDecoder {
  private strings: string[] = [];
  private hints: EndpointHint[] = [];
  private labels: (readonly string[])[] = [];

  /** @param full the full parser, for the lines the scanner left to it (./parse.ts) */
  constructor(private readonly full: (line: Uint8Array) => ParseResult) {}

  /** Calls `sink` with each result of `batch`, in order; returns the count. */
  decode(batch: CompactBatch, sink: (result: ParseResult) => void): number {
    if (batch.reset) {
      this.strings = [];
      this.hints = [];
      this.labels = [];
    }
    for (const s of batch.strings) this.strings.push(s);
    for (const l of batch.labels) this.labels.push(Object.freeze(l));
    for (const h of batch.hints) this.hints.push(this.hintOf(h));
    const { count, times, rows, extras } = batch;
    const strings = this.strings;
    const hints = this.hints;
    for (let i = 0, base = 0; i < count; i++, base += F) {
      const tag = rows[base + TAG]!;
      if (tag === TAG_OTHER) {
        sink(extras[rows[base + EXTRA]!] as ParseResult);
        continue;
      }
      if (tag === TAG_UNSCANNED) {
        sink(this.full(extras[rows[base + EXTRA]!] as Uint8Array));
        continue;
      }
      const sourceHint = rows[base + SRC_HINT]!;
      const destinationHint = rows[base + DST_HINT]!;
      const flow: { -readonly [K in keyof Flow]: Flow[K] } = {
        time: times[i]!,
        source: endpointOf(strings[rows[base + SRC_IP]!]!, rows[base + SRC_PORT]!, sourceHint < 0 ? undefined : hints[sourceHint]),
        destination: endpointOf(strings[rows[base + DST_IP]!]!, rows[base + DST_PORT]!, destinationHint < 0 ? undefined : hints[destinationHint]),
        protocol: strings[rows[base + PROTOCOL]!] as Flow['protocol'],
        verdict: strings[rows[base + VERDICT]!] as Flow['verdict'],
        isReply: tag === TAG_REPLY,
        confirmed: true,
      };
      const node = rows[base + NODE]!;
      if (node >= 0) flow.node = strings[node]!;
      const point = rows[base + POINT]!;
      if (point >= 0) flow.observationPoint = strings[point]!;
      const direction = rows[base + DIRECTION]!;
      if (direction >= 0) flow.trafficDirection = strings[direction] as Flow['trafficDirection'];
      const extraAt = rows[base + EXTRA]!;
      if (extraAt >= 0) {
        const extra = extras[extraAt] as FlowExtra;
        if (extra.destinationNames !== undefined) flow.destinationNames = extra.destinationNames;
        if (extra.dnsAnswer !== undefined) flow.dnsAnswer = extra.dnsAnswer;
      }
      const drop = rows[base + DROP_REASON]!;
      if (drop >= 0) flow.dropReason = strings[drop]!;
      if (extraAt >= 0) {
        const extra = extras[extraAt] as FlowExtra;
        if (extra.deniedBy !== undefined) flow.deniedBy = extra.deniedBy;
      }
      sink({ kind: 'flow', flow });
    }
    return count;
  }

  private hintOf(encoded: EncodedHint): EndpointHint {
    const hint: { -readonly [K in keyof EndpointHint]: EndpointHint[K] } = {};
    if (encoded.namespace !== undefined) hint.namespace = encoded.namespace;
    if (encoded.podName !== undefined) hint.podName = encoded.podName;
    if (encoded.labels >= 0) hint.labels = this.labels[encoded.labels]!;
    if (encoded.workload !== undefined) hint.workload = Object.freeze(encoded.workload);
    if (encoded.reserved !== undefined) hint.reserved = encoded.reserved;
    if (encoded.identity !== undefined) hint.identity = encoded.identity;
    return Object.freeze(hint);
  }
}
