/**
 * The fast path: reads a Hubble JSON line straight from its bytes, decoding only the strings and
 * numbers a `Flow` is made of and skipping everything else (the `Summary`, `ethernet`, `interface`,
 * `event_type`, `source_names`, TCP flags, Cilium-internal and CIDR labels, ...) without building it.
 *
 * Exactness contract: for every input, ./scan-line.ts's `scanHubbleLine` returns a result deep-equal to
 * ./parse.ts's `parseHubbleLine`. The scanner validates the complete JSON grammar (RFC 8259, as
 * `JSON.parse` does) of the whole line, including the values it skips, and fills the same raw record
 * the zod schema outputs, which build.ts then turns into the result for both paths. Whenever it meets
 * anything it does not handle itself — invalid JSON, a value of an unexpected type, a quoted or
 * fractional number, an unknown closed-enum name, a field spelled twice, deep nesting, a line that
 * is not an object — it gives up and the full parser decides. The property tests in scan.test.ts
 * check the contract on generated lines.
 *
 * It never stops early: a valid prefix followed by garbage is not JSON, so exactness needs every
 * byte checked. What it saves is building values: skipped ones are only validated, and values that
 * repeat are recognised by their bytes and reused — whole `source`/`destination` endpoints (with
 * their normalized labels), node names and IP addresses from line to line, the envelope's copy of
 * the flow's `time` within a line. Those caches map exact byte strings to what those bytes parse
 * to, so they cannot change a result.
 *
 * Pure: no I/O. Not reentrant (module-level scanner and caches), which is fine for synchronous use.
 */
import { Buffer } from 'node:buffer';
import type { ParseResult, Verdict } from '../../domain/flow.js';
import { agentEventResult, flowResult, lostEventsResult, nodeStatusResult, skip } from './build.js';
import { canonicalIp } from './ip.js';
import { NameTable, SIMPLE_ESCAPES, WHITESPACE, bytesOf, hexValue, plainRunEnd, skipJson, skipJsonString, startsWith } from './json-bytes.js';
import { tooLong } from './line-limit.js';
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
import { endpointCache, ipMemo, nameMemo } from './scan-cache.js';
import { parseTimestamp, parseTimestampBytes } from './time.js';

// Byte values and classes. Kept module-local on purpose: V8 folds a module's own constants, but
// reads imported bindings through their module cells (measured: the scanner ran 10–20% slower).
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
const DOT = 0x2e;

/** Bytes that end the fast run through a string: `"`, `\\` and the control characters. */
const STRING_STOP = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) STRING_STOP[c] = 1;
STRING_STOP[QUOTE] = 1;
STRING_STOP[BACKSLASH] = 1;

const LF = 0x0a;

const TRUE = bytesOf('true');
const FALSE = bytesOf('false');
const NULL = bytesOf('null');

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

/** Thrown (never escapes this module) when the scanner hands the line to the full parser. */
const BAIL: unique symbol = Symbol('hubble-scan-bail');

/** Decimal strings exact as doubles (uint64 values are strings in protojson). */
const SMALL_DECIMAL = /^(0|[1-9][0-9]{0,14})$/;

/** Buffer's native slicers (`toString` without its argument handling); present on every Node Buffer. */
interface NativeSlices {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

/** Field tables: each proto field under its proto name and its JSON name, both mapping to its id. */
function fields(names: readonly string[] | readonly (readonly [string, number])[]): NameTable {
  const entries: [string, number][] = [];
  names.forEach((entry, i) => {
    const [name, id] = typeof entry === 'string' ? [entry, i] : entry;
    entries.push([name, id]);
    const json = jsonName(name);
    if (json !== name) entries.push([json, id]);
  });
  return new NameTable(entries);
}

/** Ids of the `flow.Flow` fields and the envelope members (also bit positions in a "seen" mask). */
const enum Key {
  time,
  verdict,
  drop_reason,
  drop_reason_desc,
  IP,
  l4,
  source,
  destination,
  node_name,
  destination_names,
  l7,
  reply,
  is_reply,
  traffic_direction,
  trace_observation_point,
  egress_denied_by,
  ingress_denied_by,
  // Envelope (`observer.ExportEvent`) members.
  flow,
  node_status,
  lost_events,
  agent_event,
  debug_event,
}

const FLOW_FIELDS: readonly (readonly [string, Key])[] = [
  ['time', Key.time],
  ['verdict', Key.verdict],
  ['drop_reason', Key.drop_reason],
  ['drop_reason_desc', Key.drop_reason_desc],
  ['IP', Key.IP],
  ['l4', Key.l4],
  ['source', Key.source],
  ['destination', Key.destination],
  ['node_name', Key.node_name],
  ['destination_names', Key.destination_names],
  ['l7', Key.l7],
  ['reply', Key.reply],
  ['is_reply', Key.is_reply],
  ['traffic_direction', Key.traffic_direction],
  ['trace_observation_point', Key.trace_observation_point],
  ['egress_denied_by', Key.egress_denied_by],
  ['ingress_denied_by', Key.ingress_denied_by],
];
const ENVELOPE_MEMBERS: readonly (readonly [string, Key])[] = [
  ['flow', Key.flow],
  ['node_status', Key.node_status],
  ['lost_events', Key.lost_events],
  ['agent_event', Key.agent_event],
  ['debug_event', Key.debug_event],
];

const FLOW_KEYS = fields(FLOW_FIELDS);
/** The top level is an envelope or a bare flow: both tables in one (`time`, `node_name` are shared). */
const TOP_KEYS = fields([...FLOW_FIELDS, ...ENVELOPE_MEMBERS]);
const IP_KEYS = fields(['source', 'destination']);
const L4_MEMBERS = ['TCP', 'UDP', 'SCTP', 'ICMPv4', 'ICMPv6'] as const;
const L4_KEYS = fields(L4_MEMBERS);
const PORT_KEYS = fields(['source_port', 'destination_port']);
const ENDPOINT_KEYS = fields(['identity', 'namespace', 'labels', 'pod_name', 'workloads']);
const WORKLOAD_KEYS = fields(['name', 'kind']);
const POLICY_KEYS = fields(['name', 'namespace']);
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
const K8S_PREFIX = bytesOf('k8s:');
const INTERNAL_KEY_PREFIXES = [bytesOf('io.cilium.k8s.policy.'), bytesOf('io.cilium.k8s.namespace.labels.')];
const POD_NAMESPACE_KEY = bytesOf('io.kubernetes.pod.namespace');
const RESERVED_SOURCE = bytesOf('reserved');

/**
 * Raw records are created with every field present (undefined) in one order, so all of them share
 * one hidden class and build.ts reads them monomorphically, whatever the key order of the line.
 */
function newRawFlow(): RawFlow {
  return {
    time: undefined,
    verdict: undefined,
    drop_reason: undefined,
    drop_reason_desc: undefined,
    IP: undefined,
    l4: undefined,
    source: undefined,
    destination: undefined,
    node_name: undefined,
    destination_names: undefined,
    l7: undefined,
    reply: undefined,
    is_reply: undefined,
    traffic_direction: undefined,
    trace_observation_point: undefined,
    egress_denied_by: undefined,
    ingress_denied_by: undefined,
  };
}

class Scanner {
  private buf: Buffer = Buffer.alloc(0);
  private slices: NativeSlices = Buffer.alloc(0) as unknown as NativeSlices;
  private pos = 0;
  private end = 0;
  // What the top-level object held (reset by `top()` for every line).
  private members = 0;
  private topNode: string | undefined;
  private topTime: number | undefined;
  private bareFlow: RawFlow | undefined;
  private envelopeFlow: RawFlow | undefined;
  private lost: RawLostEvent | undefined;
  private status: RawNodeStatus | undefined;
  private agent: RawAgentEvent | undefined;
  private debug = false;
  /** The last timestamp parsed: where its bytes are (in `lastTimeBuf`, unchanged during a line) and its value. */
  private lastTimeBuf: Buffer | undefined;
  private lastTimeStart = 0;
  private lastTimeEnd = 0;
  private lastTime = 0;

  /** Where the line {@link runToNewline} scanned ends: the index of its `\n`. */
  lineEnd = -1;

  /** Scans the object at `buf[start]` (`{`) through `end`; throws BAIL when unsure. */
  run(buf: Buffer, start: number, end: number): ParseResult {
    this.begin(buf, start, end);
    if (this.pos !== this.end) throw BAIL;
    return this.result();
  }

  /**
   * Scans the object at `buf[start]` (`{`) and requires a `\n` right after it (spaces, tabs and
   * `\r` may come between), before `limit`: the line's end, kept in {@link lineEnd}. No LF can lie
   * inside the object (LF is not whitespace here, and not allowed raw in a string), so that `\n` is
   * the first one after `start`: the line is exactly the one a newline search would have found.
   */
  runToNewline(buf: Buffer, start: number, limit: number): ParseResult {
    this.begin(buf, start, limit);
    if (this.pos >= limit || buf[this.pos] !== LF) throw BAIL;
    this.lineEnd = this.pos;
    return this.result();
  }

  /** Scans the top-level object and the whitespace after it. */
  private begin(buf: Buffer, start: number, end: number): void {
    this.buf = buf;
    this.lastTimeBuf = undefined;
    this.slices = buf as unknown as NativeSlices;
    this.pos = start + 1;
    this.end = end;
    this.top();
    this.ws();
  }

  /** The line's result from what {@link top} found. */
  private result(): ParseResult {
    if (this.members > 1) throw BAIL;
    const node = this.topNode;
    const time = this.topTime;
    if (this.envelopeFlow !== undefined) return flowResult(this.envelopeFlow, node, time);
    if (this.lost !== undefined) return lostEventsResult(this.lost);
    if (this.status !== undefined) return nodeStatusResult(this.status, node);
    if (this.agent !== undefined) return agentEventResult(this.agent);
    if (this.debug) return { kind: 'debug-event' };
    // A bare flow: the top-level fields are the flow's.
    const flow = this.bareFlow ?? newRawFlow();
    flow.node_name = node;
    flow.time = time;
    return flowResult(flow);
  }

  // ---- JSON grammar -------------------------------------------------------------------------

  private ws(): void {
    const buf = this.buf;
    let p = this.pos;
    const end = this.end;
    while (p < end && WHITESPACE[buf[p]!] === 1) p++;
    this.pos = p;
  }

  /** The byte at the cursor (-1 at the end of the line: bytes past it belong to someone else). */
  private cur(): number {
    return this.pos < this.end ? this.buf[this.pos]! : -1;
  }

  /** The byte at the cursor after whitespace (-1 at the end). */
  private peek(): number {
    if (this.pos < this.end) {
      const c = this.buf[this.pos]!;
      if (WHITESPACE[c] === 0) return c;
      this.ws();
    }
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
    // Fast path: `,"` or `}` right after the value (no whitespace).
    const p = this.pos;
    if (p + 1 < this.end) {
      const b = this.buf[p];
      if (b === COMMA && this.buf[p + 1] === QUOTE) {
        this.pos = p + 1;
        return true;
      }
      if (b === RBRACE) {
        this.pos = p + 1;
        return false;
      }
    }
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

  /** Reads a member key (cursor on its `"`) and the `:` after it; returns the field id or -1. */
  private key(table: NameTable): number {
    const buf = this.buf;
    const end = this.end;
    const start = this.pos + 1;
    const p = plainRunEnd(buf, start);
    if (p >= end || buf[p] !== QUOTE) {
      // An escaped key (or an invalid one: `string()` bails).
      const id = table.get(this.string());
      this.colon();
      return id;
    }
    const id = table.match(buf, start, p);
    // Fast path: `"key":` then the value, no whitespace.
    if (p + 2 < end && buf[p + 1] === COLON && WHITESPACE[buf[p + 2]!] === 0) {
      this.pos = p + 2;
      return id;
    }
    this.pos = p + 1;
    this.colon();
    return id;
  }

  private colon(): void {
    if (this.peek() !== COLON) throw BAIL;
    this.pos++;
    if (this.pos < this.end && WHITESPACE[this.buf[this.pos]!] === 1) this.ws();
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
    const p = skipJsonString(this.buf, this.pos, this.end);
    if (p < 0) throw BAIL;
    this.pos = p;
    return p - 1;
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
      if (STRING_STOP[c] === 1) {
        if (c === QUOTE) {
          this.pos = p + 1;
          return high < 0x80 ? this.slices.latin1Slice(start, p) : this.slices.utf8Slice(start, p);
        }
        if (c === BACKSLASH) return this.escapedString(start);
        throw BAIL;
      }
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

  /** Matches a literal (`true`, `false`, `null`) at the cursor. */
  private literal(word: Uint8Array): void {
    if (this.pos + word.length > this.end) throw BAIL;
    for (let i = 0; i < word.length; i++) if (this.buf[this.pos + i] !== word[i]) throw BAIL;
    this.pos += word.length;
  }

  /** Skips any JSON value at the cursor (after whitespace), validating it. */
  private skip(): void {
    const p = skipJson(this.buf, this.pos, this.end);
    if (p < 0) throw BAIL;
    this.pos = p;
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
      const p = plainRunEnd(buf, start);
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

  /**
   * The index of the closing quote of the string at the cursor when it is a plain run (no escape,
   * no control character), else -1. Does not move the cursor.
   */
  private plainString(): number {
    const buf = this.buf;
    const end = this.end;
    const p = plainRunEnd(buf, this.pos + 1);
    return p < end && buf[p] === QUOTE ? p : -1;
  }

  private optTimestamp(): number | undefined {
    if (this.cur() !== QUOTE) {
      if (this.isNull()) return undefined;
      throw BAIL;
    }
    const start = this.pos + 1;
    const close = this.plainString();
    if (close < 0) {
      const millis = parseTimestamp(this.string());
      if (millis === undefined) throw BAIL;
      return millis;
    }
    this.pos = close + 1;
    // The envelope's `time` repeats the flow's, byte for byte: compare with the last one parsed.
    const buf = this.buf;
    const last = this.lastTimeStart;
    if (this.lastTimeBuf === buf && this.lastTimeEnd - last === close - start) {
      let i = close - start - 1;
      while (i >= 0 && buf[last + i] === buf[start + i]) i--;
      if (i < 0) return this.lastTime;
    }
    const millis = parseTimestampBytes(buf, start, close);
    if (millis === undefined) throw BAIL;
    this.lastTimeBuf = buf;
    this.lastTimeStart = start;
    this.lastTimeEnd = close;
    this.lastTime = millis;
    return millis;
  }

  /** A string field whose values repeat (node names): decoded once per distinct byte string. */
  private optName(): string | undefined {
    if (this.cur() !== QUOTE) {
      if (this.isNull()) return undefined;
      throw BAIL;
    }
    const close = this.plainString();
    if (close < 0) return this.string();
    const start = this.pos + 1;
    this.pos = close + 1;
    const slot = nameMemo.slot(this.buf, start, close);
    const known = nameMemo.get(this.buf, start, close, slot);
    if (known !== undefined) return known;
    const name = this.decode(start, close);
    nameMemo.set(this.buf, start, close, slot, name);
    return name;
  }

  /** An IP address string → its canonical text (decoded and checked once per distinct spelling). */
  private optIp(): string | undefined {
    if (this.cur() !== QUOTE) {
      if (this.isNull()) return undefined;
      throw BAIL;
    }
    const close = this.plainString();
    if (close < 0) {
      const ip = canonicalIp(this.string());
      if (ip === undefined) throw BAIL;
      return ip;
    }
    const start = this.pos + 1;
    this.pos = close + 1;
    const slot = ipMemo.slot(this.buf, start, close);
    const known = ipMemo.get(this.buf, start, close, slot);
    if (known !== undefined) return known;
    const ip = canonicalIp(this.decode(start, close));
    if (ip === undefined) throw BAIL;
    ipMemo.set(this.buf, start, close, slot, ip);
    return ip;
  }

  /** Decodes the raw (escape-free) string bytes `buf[start, end)`. */
  private decode(start: number, end: number): string {
    const buf = this.buf;
    let high = 0;
    for (let p = start; p < end; p++) high |= buf[p]!;
    return high < 0x80 ? this.slices.latin1Slice(start, end) : this.slices.utf8Slice(start, end);
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

  /**
   * The top-level object: an envelope member, or a bare flow's fields, or both (then the member
   * wins and the flow fields are ignored, as the schema does). `time` and `node_name` belong to
   * both and are kept apart; the other flow fields go to a raw flow made on first use.
   */
  private top(): void {
    this.members = 0;
    this.topNode = undefined;
    this.topTime = undefined;
    this.bareFlow = undefined;
    this.envelopeFlow = undefined;
    this.lost = undefined;
    this.status = undefined;
    this.agent = undefined;
    this.debug = false;
    if (!this.openObject()) return;
    let seen = 0;
    do {
      const id = this.key(TOP_KEYS);
      if (id < 0) {
        this.skip();
        continue;
      }
      if (seen & (1 << id)) throw BAIL;
      seen |= 1 << id;
      switch (id) {
        case Key.time:
          this.topTime = this.optTimestamp();
          break;
        case Key.node_name:
          this.topNode = this.optName();
          break;
        case Key.flow:
          if (this.object()) {
            this.envelopeFlow = this.flow();
            this.members++;
          }
          break;
        case Key.lost_events:
          if (this.object()) {
            this.lost = this.lostEvents();
            this.members++;
          }
          break;
        case Key.node_status:
          if (this.object()) {
            this.status = this.nodeStatus();
            this.members++;
          }
          break;
        case Key.agent_event:
          if (this.object()) {
            this.agent = this.agentEvent();
            this.members++;
          }
          break;
        case Key.debug_event:
          if (this.object()) {
            this.pos--;
            this.skip();
            this.debug = true;
            this.members++;
          }
          break;
        default:
          this.flowField(id, (this.bareFlow ??= newRawFlow()));
      }
    } while (this.nextMember());
  }

  /** `flow.Flow` after its `{`. */
  private flow(): RawFlow {
    const flow = newRawFlow();
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
      case Key.time:
        flow.time = this.optTimestamp();
        return;
      case Key.verdict:
        flow.verdict = this.optEnum(VERDICT_ENUM) as Verdict | undefined;
        return;
      case Key.drop_reason:
        flow.drop_reason = this.optUint32();
        return;
      case Key.drop_reason_desc:
        flow.drop_reason_desc = this.optEnum(DROP_ENUM);
        return;
      case Key.IP:
        if (this.object()) flow.IP = this.ip();
        return;
      case Key.l4:
        if (this.object()) flow.l4 = this.l4();
        return;
      case Key.source:
        flow.source = this.optEndpoint();
        return;
      case Key.destination:
        flow.destination = this.optEndpoint();
        return;
      case Key.node_name:
        flow.node_name = this.optName();
        return;
      case Key.destination_names:
        flow.destination_names = this.optStrings();
        return;
      case Key.l7:
        if (this.object()) flow.l7 = this.l7();
        return;
      case Key.reply:
        flow.reply = this.optBool();
        return;
      case Key.is_reply:
        flow.is_reply = this.optBool();
        return;
      case Key.traffic_direction:
        flow.traffic_direction = this.optEnum(DIRECTION_ENUM) as TrafficDirectionName | undefined;
        return;
      case Key.trace_observation_point:
        flow.trace_observation_point = this.optEnum(POINT_ENUM);
        return;
      case Key.egress_denied_by:
        flow.egress_denied_by = this.policies();
        return;
      case Key.ingress_denied_by:
        flow.ingress_denied_by = this.policies();
        return;
    }
  }

  /** `repeated flow.Policy` (only name and namespace are read). */
  private policies(): RawFlow['egress_denied_by'] {
    if (this.cur() !== LBRACKET) {
      if (this.isNull()) return undefined;
      throw BAIL;
    }
    this.pos++;
    const out: { name?: string | null; namespace?: string | null }[] = [];
    if (!this.openArray()) return out;
    do {
      if (this.peek() !== LBRACE) throw BAIL;
      this.pos++;
      const policy: { name?: string | null; namespace?: string | null } = {};
      if (this.openObject()) {
        let seen = 0;
        do {
          const id = this.key(POLICY_KEYS);
          if (id < 0) {
            this.skip();
            continue;
          }
          if (seen & (1 << id)) throw BAIL;
          seen |= 1 << id;
          if (id === 0) policy.name = this.optString();
          else policy.namespace = this.optString();
        } while (this.nextMember());
      }
      out.push(policy);
    } while (this.nextElement());
    return out;
  }

  private ip(): NonNullable<RawFlow['IP']> {
    const ip: NonNullable<RawFlow['IP']> = { source: undefined, destination: undefined };
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
    const l4: NonNullable<RawFlow['l4']> = { TCP: undefined, UDP: undefined, SCTP: undefined, ICMPv4: undefined, ICMPv6: undefined };
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
    const ports: { source_port?: number | null; destination_port?: number | null } = { source_port: undefined, destination_port: undefined };
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
    const ep: RawEndpoint = { identity: undefined, namespace: undefined, labels: undefined, pod_name: undefined, workloads: undefined };
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
    const l7: NonNullable<RawFlow['l7']> = { dns: undefined };
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
    const dns: { query?: string | null; ips?: string[] | null } = { query: undefined, ips: undefined };
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

/**
 * The scanner's own result for the line `buf[start, end)` (no newline; `too-long` past `limit`
 * bytes), or undefined when it leaves the line to the full parser (./parse.ts; ./scan-line.ts joins
 * the two). The bytes are only read during the call.
 */
export function scanLineBytes(buf: Buffer, start: number, end: number, limit: number): ParseResult | undefined {
  if (end - start > limit) return tooLong(end - start, limit);
  let p = start;
  while (p < end && WHITESPACE[buf[p]!] === 1) p++;
  if (p === end) return skip('empty');
  if (buf[p] !== LBRACE) return undefined;
  return stopsPlainRun(buf, end) ? scanOrLeave(buf, p, end) : scanCopy(buf, p, end);
}

/** The scanner's result for the object at `buf[start]` through `end`, or undefined when it bails. */
function scanOrLeave(buf: Buffer, start: number, end: number): ParseResult | undefined {
  try {
    return scanner.run(buf, start, end);
  } catch (error) {
    if (error !== BAIL) throw error;
    return undefined;
  }
}

/**
 * Whether the byte at `end` ends a plain run (json-bytes.ts `plainRunEnd`): a line followed by its
 * `\r`/`\n` is, so the scanner never reads past the line's bytes — and never past the end of
 * `buf`, which would make V8 recompile the scanner's hot loops for out-of-bounds reads, slower for
 * the rest of the process.
 */
function stopsPlainRun(buf: Buffer, end: number): boolean {
  return end < buf.length && STRING_STOP[buf[end]!] === 1;
}

/** A copy of the line with a `\n` after it, for a line not followed by one (the end of a buffer). */
let scratch = Buffer.alloc(4096);

/** {@link scanLineBytes} over a copy of `buf[start, end)` followed by a `\n`. */
function scanCopy(buf: Buffer, start: number, end: number): ParseResult | undefined {
  const length = end - start;
  if (scratch.length < length + 1) scratch = Buffer.alloc(Math.max(length + 1, scratch.length * 2));
  buf.copy(scratch, 0, start, end);
  scratch[length] = LF;
  return scanOrLeave(scratch, 0, length);
}

/**
 * Takes the line that starts at `buf[start]` without searching for its end first: the line is a
 * JSON object followed by its `\n`, and the scan finds both. Gives the scanner's result to
 * `deliver` and returns the index of the `\n`; returns -1 (delivering nothing) when the scanner
 * does not decide the line by itself, or no `\n` follows the object before `limit`: the caller then
 * finds the line's end and parses it the usual way ({@link scanLineBytes}, the full parser). Saves
 * the newline search a line (a native `indexOf` call costs about as much as scanning 100 bytes). A
 * line that starts with anything but `{` (blank, indented, a byte order mark) is left to the usual
 * way. The shape of src/ingest/lines.ts's `LineSink.lineAt`.
 */
export function takeScannedLine(buf: Buffer, start: number, limit: number, deliver: (result: ParseResult) => void): number {
  if (start >= limit || buf[start] !== LBRACE) return -1;
  let result: ParseResult;
  try {
    result = scanner.runToNewline(buf, start, limit);
  } catch (error) {
    if (error !== BAIL) throw error;
    return -1;
  }
  const end = scanner.lineEnd;
  deliver(result);
  return end;
}
