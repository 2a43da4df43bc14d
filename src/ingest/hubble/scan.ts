/**
 * The fast path: reads a Hubble JSON line straight from its bytes, decoding only the strings and
 * numbers a `Flow` is made of and skipping everything else (the `Summary`, `ethernet`, `interface`,
 * `event_type`, `source_names`, TCP flags, Cilium-internal and CIDR labels, ...) without building it.
 *
 * Exactness contract: for every input, {@link scanHubbleLine} returns a result deep-equal to
 * {@link parseHubbleLine}'s. The scanner validates the complete JSON grammar (RFC 8259, as
 * `JSON.parse` does) of the whole line, including the values it skips, and fills the same raw record
 * the zod schema outputs, which build.ts then turns into the result for both paths. Whenever it meets
 * anything it does not handle itself — invalid JSON, a value of an unexpected type, a quoted or
 * fractional number, an unknown closed-enum name, a field spelled twice, deep nesting, a line that
 * is not an object — it gives up and the full parser decides. The property tests in scan.test.ts
 * check the contract on generated lines.
 *
 * Pure: no I/O. Not reentrant (one module-level scanner), which is fine for synchronous use.
 */
import { Buffer } from 'node:buffer';
import type { ParseResult, Verdict } from '../../domain/flow.js';
import { agentEventResult, flowResult, lostEventsResult, nodeStatusResult, rememberEndpointHint, skip } from './build.js';
import { canonicalIp } from './ip.js';
import { DEFAULT_MAX_LINE_BYTES, parseHubbleLine, tooLong, type HubbleParseOptions } from './parse.js';
import {
  AGENT_EVENT_TYPES,
  DROP_REASONS,
  LOST_EVENT_SOURCES,
  NODE_STATES,
  TRACE_OBSERVATION_POINTS,
  TRAFFIC_DIRECTIONS,
  VERDICTS,
  enumName,
  jsonName,
  type EnumNumbers,
  type TrafficDirectionName,
} from './proto.js';
import type { RawAgentEvent, RawEndpoint, RawFlow, RawLostEvent, RawNodeStatus } from './schema.js';
import { parseTimestamp, parseTimestampBytes } from './time.js';

/** Thrown (never escapes this module) when the scanner hands the line to the full parser. */
const BAIL: unique symbol = Symbol('hubble-scan-bail');

/** Decimal strings exact as doubles (uint64 values are strings in protojson). */
const SMALL_DECIMAL = /^(0|[1-9][0-9]{0,14})$/;

/** Deeper nesting than this (in skipped values) is left to `JSON.parse`. */
const MAX_DEPTH = 64;

// Byte values.
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const EQUALS = 0x3d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const PLUS = 0x2b;
const DOT = 0x2e;

/** Buffer's native slicers (`toString` without its argument handling); present on every Node Buffer. */
interface NativeSlices {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

const encoder = new TextEncoder();

/**
 * Byte strings → small integer ids, matched without decoding (JSON names are ASCII): a hash slot
 * per (length, first byte), then a byte comparison.
 */
class NameTable {
  private readonly heads = new Int16Array(64 * 128).fill(-1);
  private readonly names: Uint8Array[] = [];
  private readonly ids: number[] = [];
  private readonly next: number[] = [];
  private readonly byName = new Map<string, number>();

  constructor(entries: readonly (readonly [string, number])[]) {
    for (const [name, id] of entries) {
      const bytes = encoder.encode(name);
      if (bytes.length === 0 || bytes.length >= 64) throw new Error(`name table: unsupported name ${JSON.stringify(name)}`);
      const slot = (bytes.length << 7) | (bytes[0]! & 127);
      this.names.push(bytes);
      this.ids.push(id);
      this.next.push(this.heads[slot]!);
      this.heads[slot] = this.names.length - 1;
      this.byName.set(name, id);
    }
  }

  /** The id of the name spelled by `buf[start, end)`, or -1. */
  match(buf: Uint8Array, start: number, end: number): number {
    const len = end - start;
    if (len === 0 || len >= 64) return -1;
    const first = buf[start]!;
    let e = this.heads[(len << 7) | (first & 127)]!;
    while (e >= 0) {
      const bytes = this.names[e]!;
      let i = 1;
      while (i < len && buf[start + i] === bytes[i]) i++;
      if (i === len && first === bytes[0]) return this.ids[e]!;
      e = this.next[e]!;
    }
    return -1;
  }

  /** The id of a decoded name, or -1. */
  get(name: string): number {
    return this.byName.get(name) ?? -1;
  }
}

/** Field tables: each proto field under its proto name and its JSON name, both mapping to one id. */
function fields(names: readonly string[], firstId = 0): NameTable {
  const entries: [string, number][] = [];
  names.forEach((name, i) => {
    entries.push([name, firstId + i]);
    const json = jsonName(name);
    if (json !== name) entries.push([json, firstId + i]);
  });
  return new NameTable(entries);
}

// flow.Flow fields (ids are bit positions in a "seen" mask).
const FLOW_FIELDS = [
  'time', 'verdict', 'drop_reason', 'drop_reason_desc', 'IP', 'l4', 'source', 'destination', 'node_name',
  'destination_names', 'l7', 'reply', 'is_reply', 'traffic_direction', 'trace_observation_point',
] as const;
const F = Object.fromEntries(FLOW_FIELDS.map((name, i) => [name, i])) as { readonly [K in (typeof FLOW_FIELDS)[number]]: number };
const ENVELOPE_MEMBERS = ['flow', 'node_status', 'lost_events', 'agent_event', 'debug_event'] as const;
const E = Object.fromEntries(ENVELOPE_MEMBERS.map((name, i) => [name, FLOW_FIELDS.length + i])) as {
  readonly [K in (typeof ENVELOPE_MEMBERS)[number]]: number;
};

const FLOW_KEYS = fields(FLOW_FIELDS);
/** The top level is an envelope or a bare flow: both tables in one (`time`, `node_name` are shared). */
const TOP_KEYS = fields([...FLOW_FIELDS, ...ENVELOPE_MEMBERS]);
const IP_KEYS = fields(['source', 'destination']);
const L4_MEMBERS = ['TCP', 'UDP', 'SCTP', 'ICMPv4', 'ICMPv6'] as const;
const L4_KEYS = fields(L4_MEMBERS);
const PORT_KEYS = fields(['source_port', 'destination_port']);
const ENDPOINT_KEYS = fields(['identity', 'namespace', 'labels', 'pod_name', 'workloads']);
const WORKLOAD_KEYS = fields(['name', 'kind']);
const L7_KEYS = fields(['dns']);
const DNS_KEYS = fields(['query', 'ips']);
const LOST_KEYS = fields(['source', 'num_events_lost']);
const NODE_STATUS_KEYS = fields(['state_change', 'node_names', 'message']);
const AGENT_KEYS = fields(['type']);

/** Enum name tables: the id is the index into `names`, so a match returns an interned string. */
interface EnumTable {
  readonly table: NameTable;
  readonly names: readonly string[];
  /** Closed enums accept only known names and numbers (`flow.Verdict`, `flow.TrafficDirection`). */
  readonly closed: boolean;
  readonly numbers: EnumNumbers;
}

function enumTable(numbers: EnumNumbers, closed: boolean): EnumTable {
  const names = [...numbers.values()];
  return { table: new NameTable(names.map((n, i) => [n, i])), names, closed, numbers };
}

const VERDICT_ENUM = enumTable(new Map(VERDICTS.map((n, i) => [i, n])), true);
const DIRECTION_ENUM = enumTable(new Map(TRAFFIC_DIRECTIONS.map((n, i) => [i, n])), true);
const POINT_ENUM = enumTable(TRACE_OBSERVATION_POINTS, false);
const DROP_ENUM = enumTable(DROP_REASONS, false);
const LOST_SOURCE_ENUM = enumTable(LOST_EVENT_SOURCES, false);
const NODE_STATE_ENUM = enumTable(NODE_STATES, false);
const AGENT_TYPE_ENUM = enumTable(AGENT_EVENT_TYPES, false);

/** `k8s:` label keys that never reach `Flow` labels (build.ts `isCiliumInternalLabelKey`), as bytes. */
const K8S_PREFIX = encoder.encode('k8s:');
const INTERNAL_KEY_PREFIXES = [encoder.encode('io.cilium.k8s.policy.'), encoder.encode('io.cilium.k8s.namespace.labels.')];
const POD_NAMESPACE_KEY = encoder.encode('io.kubernetes.pod.namespace');
const RESERVED_SOURCE = encoder.encode('reserved');

function startsWith(buf: Uint8Array, start: number, end: number, prefix: Uint8Array): boolean {
  if (end - start < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[start + i] !== prefix[i]) return false;
  return true;
}

/**
 * Endpoints repeat: the same pod's `source`/`destination` object, byte for byte, in thousands of
 * lines. A JSON object value parses the same wherever it appears, so an endpoint whose bytes equal
 * those of one already scanned (and so validated) reuses that raw record — and build.ts its
 * normalized hint — without being scanned again. Looked up by a hash of its first
 * {@link EndpointCache.PREFIX} bytes and confirmed by comparing all its bytes. Bounded: cleared when
 * full. Endpoints shorter than the prefix are not cached (cheap to scan, and their hash would
 * cover bytes after them).
 */
class EndpointCache {
  static readonly PREFIX = 48;
  private static readonly MAX_ENTRIES = 4096;
  private readonly entries = new Map<number, { readonly bytes: Buffer; readonly raw: RawEndpoint }>();

  /** Hash of `buf[start, start + PREFIX)`, or -1 when the line has fewer bytes left. */
  hash(buf: Uint8Array, start: number, end: number): number {
    if (end - start < EndpointCache.PREFIX) return -1;
    let h = 0x811c9dc5;
    for (let i = start; i < start + EndpointCache.PREFIX; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    return h >>> 0;
  }

  /** The cached endpoint whose bytes start at `buf[start]`, if any. */
  lookup(buf: Buffer, start: number, end: number, hash: number): { readonly bytes: Buffer; readonly raw: RawEndpoint } | undefined {
    if (hash < 0) return undefined;
    const entry = this.entries.get(hash);
    if (entry === undefined) return undefined;
    const length = entry.bytes.length;
    if (start + length > end || buf.compare(entry.bytes, 0, length, start, start + length) !== 0) return undefined;
    return entry;
  }

  remember(buf: Buffer, start: number, stop: number, hash: number, raw: RawEndpoint): void {
    if (hash < 0 || stop - start < EndpointCache.PREFIX) return;
    if (this.entries.size >= EndpointCache.MAX_ENTRIES) this.entries.clear();
    rememberEndpointHint(raw);
    this.entries.set(hash, { bytes: Buffer.from(buf.subarray(start, stop)), raw });
  }
}

const endpointCache = new EndpointCache();

/** What the top-level object held: a bare flow's fields and/or envelope members. */
interface Top {
  flow: RawFlow;
  members: number;
  envelopeFlow: RawFlow | undefined;
  lost: RawLostEvent | undefined;
  nodeStatus: RawNodeStatus | undefined;
  agent: RawAgentEvent | undefined;
  debug: boolean;
}

class Scanner {
  private buf: Buffer = Buffer.alloc(0);
  private slices: NativeSlices = Buffer.alloc(0) as unknown as NativeSlices;
  private pos = 0;
  private end = 0;

  /** Scans the object at `buf[start]` (`{`) through `end`; throws BAIL when unsure. */
  run(buf: Buffer, start: number, end: number): ParseResult {
    this.buf = buf;
    this.slices = buf as unknown as NativeSlices;
    this.pos = start + 1;
    this.end = end;
    const top = this.top();
    this.ws();
    if (this.pos !== this.end) throw BAIL;
    if (top.members > 1) throw BAIL;
    const node = top.flow.node_name;
    const time = top.flow.time;
    if (top.envelopeFlow !== undefined) return flowResult(top.envelopeFlow, node, time);
    if (top.lost !== undefined) return lostEventsResult(top.lost);
    if (top.nodeStatus !== undefined) return nodeStatusResult(top.nodeStatus, node);
    if (top.agent !== undefined) return agentEventResult(top.agent);
    if (top.debug) return { kind: 'debug-event' };
    return flowResult(top.flow);
  }

  // ---- JSON grammar -------------------------------------------------------------------------

  private ws(): void {
    const buf = this.buf;
    let p = this.pos;
    while (p < this.end) {
      const c = buf[p];
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      p++;
    }
    this.pos = p;
  }

  /** The byte at the cursor (-1 at the end of the line: bytes past it belong to someone else). */
  private cur(): number {
    return this.pos < this.end ? this.buf[this.pos]! : -1;
  }

  /** The byte at the cursor after whitespace (-1 at the end). */
  private peek(): number {
    this.ws();
    return this.cur();
  }

  /** After `{`: true when a member follows (cursor on its key), false when `}` was consumed. */
  private openObject(): boolean {
    const c = this.peek();
    if (c === RBRACE) {
      this.pos++;
      return false;
    }
    if (c !== QUOTE) throw BAIL;
    return true;
  }

  /** After a member value: true on `,` (cursor on the next key), false on `}`. */
  private nextMember(): boolean {
    const c = this.peek();
    if (c === COMMA) {
      this.pos++;
      if (this.peek() !== QUOTE) throw BAIL;
      return true;
    }
    if (c === RBRACE) {
      this.pos++;
      return false;
    }
    throw BAIL;
  }

  /** After `[`: true when an element follows, false when `]` was consumed. */
  private openArray(): boolean {
    if (this.peek() === RBRACKET) {
      this.pos++;
      return false;
    }
    return true;
  }

  /** After an element: true on `,`, false on `]`. */
  private nextElement(): boolean {
    const c = this.peek();
    if (c === COMMA) {
      this.pos++;
      return true;
    }
    if (c === RBRACKET) {
      this.pos++;
      return false;
    }
    throw BAIL;
  }

  /** Reads a member key (cursor on its `"`) and the `:`; returns the field id or -1. */
  private key(table: NameTable): number {
    const buf = this.buf;
    const start = this.pos + 1;
    let p = start;
    for (;;) {
      if (p >= this.end) throw BAIL;
      const c = buf[p]!;
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        const id = table.get(this.string());
        this.colon();
        return id;
      }
      if (c < 0x20) throw BAIL;
      p++;
    }
    this.pos = p + 1;
    this.colon();
    return table.match(buf, start, p);
  }

  private colon(): void {
    if (this.peek() !== COLON) throw BAIL;
    this.pos++;
    this.ws();
  }

  /** Validates an escape at `p` (the backslash); returns the index after it. */
  private escape(p: number): number {
    if (p + 1 >= this.end) throw BAIL;
    const c = this.buf[p + 1];
    if (c === 0x75) {
      if (p + 6 > this.end) throw BAIL;
      for (let i = p + 2; i < p + 6; i++) if (hexValue(this.buf[i]!) < 0) throw BAIL;
      return p + 6;
    }
    if (c === QUOTE || c === BACKSLASH || c === 0x2f || c === 0x62 || c === 0x66 || c === 0x6e || c === 0x72 || c === 0x74) return p + 2;
    throw BAIL;
  }

  /** Skips a string (cursor on `"`), validating it. Returns its raw end (the closing quote's index). */
  private skipString(): number {
    const buf = this.buf;
    const end = this.end;
    let p = this.pos + 1;
    while (p < end) {
      const c = buf[p]!;
      if (c === QUOTE) {
        this.pos = p + 1;
        return p;
      }
      if (c === BACKSLASH) p = this.escape(p);
      else if (c < 0x20) throw BAIL;
      else p++;
    }
    throw BAIL;
  }

  /** Reads a string value (cursor on `"`) and decodes it exactly as `JSON.parse` would. */
  private string(): string {
    const buf = this.buf;
    const end = this.end;
    const start = this.pos + 1;
    let p = start;
    let high = 0;
    while (p < end) {
      const c = buf[p]!;
      if (c === QUOTE) {
        this.pos = p + 1;
        return high < 0x80 ? this.slices.latin1Slice(start, p) : this.slices.utf8Slice(start, p);
      }
      if (c === BACKSLASH) return this.escapedString(start);
      if (c < 0x20) throw BAIL;
      high |= c;
      p++;
    }
    throw BAIL;
  }

  /** The slow half of {@link string}: a string with escapes, decoded segment by segment. */
  private escapedString(start: number): string {
    const buf = this.buf;
    let out = '';
    let segment = start;
    let p = start;
    while (p < this.end) {
      const c = buf[p]!;
      if (c === QUOTE) {
        this.pos = p + 1;
        return out + this.slices.utf8Slice(segment, p);
      }
      if (c < 0x20) throw BAIL;
      if (c !== BACKSLASH) {
        p++;
        continue;
      }
      out += this.slices.utf8Slice(segment, p);
      const next = this.escape(p);
      const e = buf[p + 1]!;
      if (e === 0x75) {
        out += String.fromCharCode(
          (hexValue(buf[p + 2]!) << 12) | (hexValue(buf[p + 3]!) << 8) | (hexValue(buf[p + 4]!) << 4) | hexValue(buf[p + 5]!),
        );
      } else {
        out += SIMPLE_ESCAPES[e]!;
      }
      p = next;
      segment = p;
    }
    throw BAIL;
  }

  /** Skips a number, validating `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`. */
  private skipNumber(): void {
    const buf = this.buf;
    let p = this.pos;
    if (buf[p] === MINUS) p++;
    const first = p;
    while (p < this.end && isDigit(buf[p]!)) p++;
    if (p === first || (buf[first] === ZERO && p > first + 1)) throw BAIL;
    const end = this.end;
    if (p < end && buf[p] === DOT) {
      const fraction = ++p;
      while (p < end && isDigit(buf[p]!)) p++;
      if (p === fraction) throw BAIL;
    }
    const e = p < end ? buf[p] : -1;
    if (e === 0x65 || e === 0x45) {
      p++;
      if (p < end && (buf[p] === PLUS || buf[p] === MINUS)) p++;
      const exponent = p;
      while (p < end && isDigit(buf[p]!)) p++;
      if (p === exponent) throw BAIL;
    }
    this.pos = p;
  }

  /** Matches a literal (`true`, `false`, `null`) at the cursor. */
  private literal(word: Uint8Array): void {
    if (this.pos + word.length > this.end) throw BAIL;
    for (let i = 0; i < word.length; i++) if (this.buf[this.pos + i] !== word[i]) throw BAIL;
    this.pos += word.length;
  }

  /** Skips any JSON value at the cursor (after whitespace), validating it. */
  private skip(depth = 0): void {
    const c = this.peek();
    switch (c) {
      case QUOTE:
        this.skipString();
        return;
      case LBRACE:
        if (depth >= MAX_DEPTH) throw BAIL;
        this.pos++;
        if (this.openObject()) {
          do {
            this.skipString();
            this.colon();
            this.skip(depth + 1);
          } while (this.nextMember());
        }
        return;
      case LBRACKET:
        if (depth >= MAX_DEPTH) throw BAIL;
        this.pos++;
        if (this.openArray()) {
          do this.skip(depth + 1);
          while (this.nextElement());
        }
        return;
      case 0x74:
        this.literal(TRUE);
        return;
      case 0x66:
        this.literal(FALSE);
        return;
      case 0x6e:
        this.literal(NULL);
        return;
      default:
        if (c === MINUS || (c >= ZERO && c <= NINE)) {
          this.skipNumber();
          return;
        }
        throw BAIL;
    }
  }

  // ---- typed values (null → undefined; anything unexpected → BAIL) ----------------------------

  /** True (consuming it) when the value at the cursor is `null`. */
  private isNull(): boolean {
    if (this.cur() !== 0x6e) return false;
    this.literal(NULL);
    return true;
  }

  /** `{` of a message value: true when an object starts, false for `null`. */
  private object(): boolean {
    const c = this.cur();
    if (c === LBRACE) {
      this.pos++;
      return true;
    }
    if (c === 0x6e) {
      this.literal(NULL);
      return false;
    }
    throw BAIL;
  }

  private optString(): string | undefined {
    const c = this.cur();
    if (c === QUOTE) return this.string();
    if (this.isNull()) return undefined;
    throw BAIL;
  }

  private optBool(): boolean | undefined {
    const c = this.cur();
    if (c === 0x74) {
      this.literal(TRUE);
      return true;
    }
    if (c === 0x66) {
      this.literal(FALSE);
      return false;
    }
    if (this.isNull()) return undefined;
    throw BAIL;
  }

  /** A plain non-negative integer literal below 2^32 (quoted, signed, fractional → BAIL). */
  private optUint32(): number | undefined {
    const buf = this.buf;
    let p = this.pos;
    const c = this.cur();
    if (c < ZERO || c > NINE) {
      if (this.isNull()) return undefined;
      throw BAIL;
    }
    let value = c - ZERO;
    p++;
    if (value !== 0) {
      while (p < this.end) {
        const d = buf[p]! - ZERO;
        if (d < 0 || d > 9) break;
        value = value * 10 + d;
        p++;
      }
    }
    const next = p < this.end ? buf[p]! : -1;
    if (value > 0xffff_ffff || isDigit(next) || next === DOT || next === 0x65 || next === 0x45) throw BAIL;
    this.pos = p;
    return value;
  }

  /**
   * A proto `uint64`, which protojson writes as a decimal string: plain numbers and strings of up
   * to 15 digits (exact as doubles); anything longer goes to the full parser.
   */
  private optUint64(): number | undefined {
    if (this.cur() !== QUOTE) return this.optUint32();
    const text = this.string();
    if (!SMALL_DECIMAL.test(text)) throw BAIL;
    return Number(text);
  }

  private optEnum(e: EnumTable): string | undefined {
    const buf = this.buf;
    const c = this.cur();
    if (c === QUOTE) {
      const start = this.pos + 1;
      let p = start;
      while (p < this.end) {
        const b = buf[p]!;
        if (b === QUOTE || b === BACKSLASH || b < 0x20) break;
        p++;
      }
      if (p < this.end && buf[p] === QUOTE) {
        const id = e.table.match(buf, start, p);
        if (id >= 0) {
          this.pos = p + 1;
          return e.names[id];
        }
      }
      const name = this.string();
      if (e.closed && e.table.get(name) < 0) throw BAIL;
      return name;
    }
    if (c === MINUS || isDigit(c)) {
      const n = this.optUint32();
      if (n === undefined || n > 0x7fff_ffff) throw BAIL;
      const name = e.numbers.get(n);
      if (name === undefined && e.closed) throw BAIL;
      return name ?? enumName(e.numbers, n);
    }
    if (this.isNull()) return undefined;
    throw BAIL;
  }

  private optTimestamp(): number | undefined {
    const buf = this.buf;
    if (this.cur() === QUOTE) {
      const start = this.pos + 1;
      let p = start;
      while (p < this.end) {
        const b = buf[p]!;
        if (b === QUOTE || b === BACKSLASH || b < 0x20) break;
        p++;
      }
      let millis: number | undefined;
      if (p < this.end && buf[p] === QUOTE) {
        millis = parseTimestampBytes(buf, start, p);
        this.pos = p + 1;
      } else {
        millis = parseTimestamp(this.string());
      }
      if (millis === undefined) throw BAIL;
      return millis;
    }
    if (this.isNull()) return undefined;
    throw BAIL;
  }

  private optIp(): string | undefined {
    const text = this.optString();
    if (text === undefined) return undefined;
    const ip = canonicalIp(text);
    if (ip === undefined) throw BAIL;
    return ip;
  }

  /** `repeated string` (null → undefined). */
  private optStrings(): string[] | undefined {
    const c = this.cur();
    if (c !== LBRACKET) {
      if (this.isNull()) return undefined;
      throw BAIL;
    }
    this.pos++;
    const out: string[] = [];
    if (this.openArray()) {
      do {
        if (this.peek() !== QUOTE) throw BAIL;
        out.push(this.string());
      } while (this.nextElement());
    }
    return out;
  }

  private optIps(): string[] | undefined {
    const texts = this.optStrings();
    if (texts === undefined) return undefined;
    for (let i = 0; i < texts.length; i++) {
      const ip = canonicalIp(texts[i]!);
      if (ip === undefined) throw BAIL;
      texts[i] = ip;
    }
    return texts;
  }

  /**
   * `Endpoint.labels`: every element is checked to be a string, but labels build.ts would drop
   * anyway (Cilium-internal `k8s:` keys, non-`k8s`/`reserved` sources such as `cidr:`) are skipped
   * without being decoded. The kept ones are classified again by build.ts.
   */
  private optLabels(): string[] | undefined {
    const buf = this.buf;
    if (this.cur() !== LBRACKET) {
      if (this.isNull()) return undefined;
      throw BAIL;
    }
    this.pos++;
    const out: string[] = [];
    if (!this.openArray()) return out;
    do {
      if (this.peek() !== QUOTE) throw BAIL;
      const start = this.pos + 1;
      const quote = this.skipString();
      if (!droppedLabel(buf, start, quote)) {
        this.pos = start - 1;
        out.push(this.string());
      }
    } while (this.nextElement());
    return out;
  }

  // ---- messages ---------------------------------------------------------------------------------

  private top(): Top {
    const top: Top = { flow: {}, members: 0, envelopeFlow: undefined, lost: undefined, nodeStatus: undefined, agent: undefined, debug: false };
    if (!this.openObject()) return top;
    let seen = 0;
    do {
      const id = this.key(TOP_KEYS);
      if (id < 0) {
        this.skip();
        continue;
      }
      if (seen & (1 << id)) throw BAIL;
      seen |= 1 << id;
      if (id < FLOW_FIELDS.length) {
        this.flowField(id, top.flow);
        continue;
      }
      switch (id) {
        case E.flow:
          if (this.object()) {
            top.envelopeFlow = this.flow();
            top.members++;
          }
          break;
        case E.lost_events:
          if (this.object()) {
            top.lost = this.lostEvents();
            top.members++;
          }
          break;
        case E.node_status:
          if (this.object()) {
            top.nodeStatus = this.nodeStatus();
            top.members++;
          }
          break;
        case E.agent_event:
          if (this.object()) {
            top.agent = this.agentEvent();
            top.members++;
          }
          break;
        case E.debug_event:
          if (this.object()) {
            this.pos--;
            this.skip();
            top.debug = true;
            top.members++;
          }
          break;
      }
    } while (this.nextMember());
    return top;
  }

  /** `flow.Flow` after its `{`. */
  private flow(): RawFlow {
    const flow: RawFlow = {};
    if (!this.openObject()) return flow;
    let seen = 0;
    do {
      const id = this.key(FLOW_KEYS);
      if (id < 0) {
        this.skip();
        continue;
      }
      if (seen & (1 << id)) throw BAIL;
      seen |= 1 << id;
      this.flowField(id, flow);
    } while (this.nextMember());
    return flow;
  }

  private flowField(id: number, flow: RawFlow): void {
    switch (id) {
      case F.time:
        flow.time = this.optTimestamp();
        return;
      case F.verdict:
        flow.verdict = this.optEnum(VERDICT_ENUM) as Verdict | undefined;
        return;
      case F.drop_reason:
        flow.drop_reason = this.optUint32();
        return;
      case F.drop_reason_desc:
        flow.drop_reason_desc = this.optEnum(DROP_ENUM);
        return;
      case F.IP:
        if (this.object()) flow.IP = this.ip();
        return;
      case F.l4:
        if (this.object()) flow.l4 = this.l4();
        return;
      case F.source:
        flow.source = this.optEndpoint();
        return;
      case F.destination:
        flow.destination = this.optEndpoint();
        return;
      case F.node_name:
        flow.node_name = this.optString();
        return;
      case F.destination_names:
        flow.destination_names = this.optStrings();
        return;
      case F.l7:
        if (this.object()) flow.l7 = this.l7();
        return;
      case F.reply:
        flow.reply = this.optBool();
        return;
      case F.is_reply:
        flow.is_reply = this.optBool();
        return;
      case F.traffic_direction:
        flow.traffic_direction = this.optEnum(DIRECTION_ENUM) as TrafficDirectionName | undefined;
        return;
      case F.trace_observation_point:
        flow.trace_observation_point = this.optEnum(POINT_ENUM);
        return;
    }
  }

  private ip(): NonNullable<RawFlow['IP']> {
    const ip: NonNullable<RawFlow['IP']> = {};
    if (!this.openObject()) return ip;
    let seen = 0;
    do {
      const id = this.key(IP_KEYS);
      if (id < 0) {
        this.skip();
        continue;
      }
      if (seen & (1 << id)) throw BAIL;
      seen |= 1 << id;
      if (id === 0) ip.source = this.optIp();
      else ip.destination = this.optIp();
    } while (this.nextMember());
    return ip;
  }

  private l4(): NonNullable<RawFlow['l4']> {
    const l4: NonNullable<RawFlow['l4']> = {};
    if (!this.openObject()) return l4;
    let seen = 0;
    let members = 0;
    do {
      const id = this.key(L4_KEYS);
      if (id < 0) {
        this.skip();
        continue;
      }
      if (seen & (1 << id)) throw BAIL;
      seen |= 1 << id;
      if (!this.object()) continue;
      members++;
      if (id <= 2) {
        const ports = this.ports();
        if (id === 0) l4.TCP = ports;
        else if (id === 1) l4.UDP = ports;
        else l4.SCTP = ports;
      } else {
        this.pos--;
        this.skip();
        if (id === 3) l4.ICMPv4 = {};
        else l4.ICMPv6 = {};
      }
    } while (this.nextMember());
    if (members > 1) throw BAIL;
    return l4;
  }

  private ports(): { source_port?: number | null; destination_port?: number | null } {
    const ports: { source_port?: number | null; destination_port?: number | null } = {};
    if (!this.openObject()) return ports;
    let seen = 0;
    do {
      const id = this.key(PORT_KEYS);
      if (id < 0) {
        this.skip();
        continue;
      }
      if (seen & (1 << id)) throw BAIL;
      seen |= 1 << id;
      if (id === 0) ports.source_port = this.optUint32();
      else ports.destination_port = this.optUint32();
    } while (this.nextMember());
    return ports;
  }

  /** `flow.Endpoint` (null → undefined), through {@link EndpointCache}. */
  private optEndpoint(): RawEndpoint | undefined {
    if (this.cur() !== LBRACE) {
      if (this.isNull()) return undefined;
      throw BAIL;
    }
    const start = this.pos;
    const hash = endpointCache.hash(this.buf, start, this.end);
    const cached = endpointCache.lookup(this.buf, start, this.end, hash);
    if (cached !== undefined) {
      this.pos = start + cached.bytes.length;
      return cached.raw;
    }
    this.pos++;
    const raw = this.endpoint();
    endpointCache.remember(this.buf, start, this.pos, hash, raw);
    return raw;
  }

  private endpoint(): RawEndpoint {
    const ep: RawEndpoint = {};
    if (!this.openObject()) return ep;
    let seen = 0;
    do {
      const id = this.key(ENDPOINT_KEYS);
      if (id < 0) {
        this.skip();
        continue;
      }
      if (seen & (1 << id)) throw BAIL;
      seen |= 1 << id;
      switch (id) {
        case 0:
          ep.identity = this.optUint32();
          break;
        case 1:
          ep.namespace = this.optString();
          break;
        case 2:
          ep.labels = this.optLabels();
          break;
        case 3:
          ep.pod_name = this.optString();
          break;
        case 4:
          ep.workloads = this.workloads();
          break;
      }
    } while (this.nextMember());
    return ep;
  }

  private workloads(): RawEndpoint['workloads'] {
    if (this.cur() !== LBRACKET) {
      if (this.isNull()) return undefined;
      throw BAIL;
    }
    this.pos++;
    const out: { name?: string | null; kind?: string | null }[] = [];
    if (!this.openArray()) return out;
    do {
      if (this.peek() !== LBRACE) throw BAIL;
      this.pos++;
      const workload: { name?: string | null; kind?: string | null } = {};
      if (this.openObject()) {
        let seen = 0;
        do {
          const id = this.key(WORKLOAD_KEYS);
          if (id < 0) {
            this.skip();
            continue;
          }
          if (seen & (1 << id)) throw BAIL;
          seen |= 1 << id;
          if (id === 0) workload.name = this.optString();
          else workload.kind = this.optString();
        } while (this.nextMember());
      }
      out.push(workload);
    } while (this.nextElement());
    return out;
  }

  private l7(): NonNullable<RawFlow['l7']> {
    const l7: NonNullable<RawFlow['l7']> = {};
    if (!this.openObject()) return l7;
    let seen = 0;
    do {
      const id = this.key(L7_KEYS);
      if (id < 0) {
        this.skip();
        continue;
      }
      if (seen) throw BAIL;
      seen = 1;
      if (this.object()) l7.dns = this.dns();
    } while (this.nextMember());
    return l7;
  }

  private dns(): { query?: string | null; ips?: string[] | null } {
    const dns: { query?: string | null; ips?: string[] | null } = {};
    if (!this.openObject()) return dns;
    let seen = 0;
    do {
      const id = this.key(DNS_KEYS);
      if (id < 0) {
        this.skip();
        continue;
      }
      if (seen & (1 << id)) throw BAIL;
      seen |= 1 << id;
      if (id === 0) dns.query = this.optString();
      else dns.ips = this.optIps();
    } while (this.nextMember());
    return dns;
  }

  private lostEvents(): RawLostEvent {
    const lost: RawLostEvent = {};
    if (!this.openObject()) return lost;
    let seen = 0;
    do {
      const id = this.key(LOST_KEYS);
      if (id < 0) {
        this.skip();
        continue;
      }
      if (seen & (1 << id)) throw BAIL;
      seen |= 1 << id;
      if (id === 0) lost.source = this.optEnum(LOST_SOURCE_ENUM);
      else lost.num_events_lost = this.optUint64();
    } while (this.nextMember());
    return lost;
  }

  private nodeStatus(): RawNodeStatus {
    const status: RawNodeStatus = {};
    if (!this.openObject()) return status;
    let seen = 0;
    do {
      const id = this.key(NODE_STATUS_KEYS);
      if (id < 0) {
        this.skip();
        continue;
      }
      if (seen & (1 << id)) throw BAIL;
      seen |= 1 << id;
      if (id === 0) status.state_change = this.optEnum(NODE_STATE_ENUM);
      else if (id === 1) status.node_names = this.optStrings();
      else status.message = this.optString();
    } while (this.nextMember());
    return status;
  }

  private agentEvent(): RawAgentEvent {
    const agent: RawAgentEvent = {};
    if (!this.openObject()) return agent;
    let seen = 0;
    do {
      const id = this.key(AGENT_KEYS);
      if (id < 0) {
        this.skip();
        continue;
      }
      if (seen) throw BAIL;
      seen = 1;
      agent.type = this.optEnum(AGENT_TYPE_ENUM);
    } while (this.nextMember());
    return agent;
  }
}

const TRUE = encoder.encode('true');
const FALSE = encoder.encode('false');
const NULL = encoder.encode('null');

const SIMPLE_ESCAPES: Record<number, string> = { 0x22: '"', 0x5c: '\\', 0x2f: '/', 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t' };

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function hexValue(c: number): number {
  if (c >= ZERO && c <= NINE) return c - ZERO;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * True when the label spelled raw (no escapes) by `buf[start, end)` is one build.ts `classifyLabel`
 * drops: a source other than `k8s`/`reserved` (the first `:` before any `=`), or a Cilium-internal
 * `k8s:` key. Labels with escapes are never dropped here (they are decoded and classified).
 */
function droppedLabel(buf: Uint8Array, start: number, end: number): boolean {
  let colon = -1;
  for (let p = start; p < end; p++) {
    const c = buf[p];
    if (c === COLON) {
      colon = p;
      break;
    }
    if (c === EQUALS || c === BACKSLASH) return false;
  }
  if (colon < 0) return false;
  if (startsWith(buf, start, end, K8S_PREFIX)) {
    const key = start + K8S_PREFIX.length;
    for (const prefix of INTERNAL_KEY_PREFIXES) if (startsWith(buf, key, end, prefix)) return true;
    if (startsWith(buf, key, end, POD_NAMESPACE_KEY)) {
      const after = key + POD_NAMESPACE_KEY.length;
      return after === end || buf[after] === EQUALS;
    }
    return false;
  }
  // `reserved:` is kept; any other source (cidr:, fqdn:, container:, ...) is not a pod label.
  return !(colon - start === RESERVED_SOURCE.length && startsWith(buf, start, colon, RESERVED_SOURCE));
}

const scanner = new Scanner();

/** Whether the scanner could decide the line itself (for tests and metrics). */
export type ScanOutcome = { readonly result: ParseResult; readonly fast: boolean };

/**
 * Scans `buf[start, end)` (one line, no newline). Returns the result, and whether the fast path
 * decided it (`fast: false`: the full parser did).
 */
export function scanHubbleBytesOutcome(buf: Buffer, start: number, end: number, options?: HubbleParseOptions): ScanOutcome {
  const limit = options?.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  if (end - start > limit) return { result: tooLong(end - start, limit), fast: true };
  let p = start;
  while (p < end) {
    const c = buf[p];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    p++;
  }
  if (p === end) return { result: skip('empty'), fast: true };
  if (buf[p] === LBRACE) {
    try {
      return { result: scanner.run(buf, p, end), fast: true };
    } catch (error) {
      if (error !== BAIL) throw error;
    }
  }
  return { result: parseHubbleLine(buf.subarray(start, end), options), fast: false };
}

/** The fast path over a line's bytes `buf[start, end)`; see the module comment for its contract. */
export function scanHubbleBytes(buf: Buffer, start: number, end: number, options?: HubbleParseOptions): ParseResult {
  return scanHubbleBytesOutcome(buf, start, end, options).result;
}

/**
 * The fast path for one line (string or bytes, without its newline): the same result as
 * {@link parseHubbleLine}, faster. A string with lone surrogates (not encodable as UTF-8 losslessly)
 * goes to the full parser.
 */
export function scanHubbleLine(line: string | Uint8Array, options?: HubbleParseOptions): ParseResult {
  if (typeof line === 'string') {
    if (!line.isWellFormed()) return parseHubbleLine(line, options);
    const bytes = Buffer.from(line, 'utf8');
    return scanHubbleBytes(bytes, 0, bytes.length, options);
  }
  const buf = Buffer.isBuffer(line) ? line : Buffer.from(line.buffer, line.byteOffset, line.byteLength);
  return scanHubbleBytes(buf, 0, buf.length, options);
}
