/**
 * `parseConntrackLine`: one line of any conntrack text format → a {@link ConntrackEntry} or a skip.
 *
 * Formats (all verified against real output captured in testdata/, see testdata/capture.sh):
 *
 * ```
 * /proc/net/nf_conntrack     ipv4     2 tcp      6 117 TIME_WAIT src=… dst=… sport=… dport=… [packets=… bytes=…] [UNREPLIED] src=… … [ASSURED] mark=0 [secctx=…] zone=0 [delta-time=…] use=2
 * conntrack -L -o extended   ipv4     2 tcp      6 431999 ESTABLISHED src=… … [ASSURED] mark=0 [zone=…] use=1 [id=…] [labels=…]
 * conntrack -L               tcp      6 431999 ESTABLISHED src=… … [ASSURED] mark=0 use=1
 * conntrack -E [-o extended]     [NEW] [ipv4     2 ]tcp      6 120 SYN_SENT src=… … [UNREPLIED] src=… …
 * conntrack -E -o timestamp  [1732700000.123456]\t [UPDATE] tcp      6 60 SYN_RECV src=… …
 * ```
 *
 * The header is `[ts] [EVENT] [l3name l3num] l4name l4num [timeout] [STATE]` where the timeout is
 * missing for offloaded entries (`ct_seq_show()` skips it when IPS_OFFLOAD is set) and for
 * kernel-initiated `[DESTROY]` events of expired entries (ctnetlink skips a zero timeout), and the
 * state word only exists for TCP, SCTP and DCCP (`print_conntrack`). The body is the ORIGINAL
 * tuple, its counters and zone, `[UNREPLIED]`, the REPLY tuple, its counters and zone, then
 * `[HW_OFFLOAD]`|`[OFFLOAD]`|`[ASSURED]` and `key=value` extras. Each tuple starts with `src=`.
 * Extras hivewall does not need (`use=`, `secctx=`, `labels=`, `delta-time=`, `zone-orig=`,
 * `portid=`, GRE's `timeout=30,`, conntrack's `[USERSPACE]`, `[start=Fri Nov 27 04:13:20 2026]`,
 * unknown future keys) are ignored.
 *
 * Pure: no I/O, no clock (pass `now` to stamp lines that carry no timestamp). Never throws.
 */
import type { SkipReason } from '../../domain/flow.js';
import { parseIPv6, readIPv4 } from './ip.js';
import { FAMILY_NUMBER, l4ByName, type L4Info } from './protocols.js';
import { cursor, excerpt, parseUint, readUint, skipSpaces, tokenEnd } from './scan.js';
import {
  DEFAULT_MAX_LINE_LENGTH,
  type ConntrackEntry,
  type ConntrackEventType,
  type ConntrackFamily,
  type ConntrackParseResult,
  type ConntrackSkip,
  type ConntrackTuple,
  type ParseConntrackOptions,
} from './types.js';

const U8 = 0xff;
const U16 = 0xffff;
const U32 = 0xffffffff;
const SAFE = Number.MAX_SAFE_INTEGER;

const K_OTHER = 0;
const K_SRC = 1;
const K_DST = 2;
const K_SPORT = 3;
const K_DPORT = 4;
const K_TYPE = 5;
const K_CODE = 6;
const K_ID = 7;
const K_PACKETS = 8;
const K_BYTES = 9;
const K_MARK = 10;
const K_ZONE = 11;

/**
 * The keys this parser reads, by the characters between token start and `=` (compared by char
 * code: this runs for every token of every line).
 */
function keyId(s: string, i: number, length: number): number {
  const c0 = s.charCodeAt(i);
  switch (length) {
    case 2: // id
      return c0 === 105 && s.charCodeAt(i + 1) === 100 ? K_ID : K_OTHER;
    case 3: // src dst
      if (c0 === 115) return s.charCodeAt(i + 1) === 114 && s.charCodeAt(i + 2) === 99 ? K_SRC : K_OTHER;
      if (c0 === 100) return s.charCodeAt(i + 1) === 115 && s.charCodeAt(i + 2) === 116 ? K_DST : K_OTHER;
      return K_OTHER;
    case 4: // type code mark zone
      if (c0 === 116) return s.startsWith('ype', i + 1) ? K_TYPE : K_OTHER;
      if (c0 === 99) return s.startsWith('ode', i + 1) ? K_CODE : K_OTHER;
      if (c0 === 109) return s.startsWith('ark', i + 1) ? K_MARK : K_OTHER;
      if (c0 === 122) return s.startsWith('one', i + 1) ? K_ZONE : K_OTHER;
      return K_OTHER;
    case 5: // sport dport bytes
      if (s.charCodeAt(i + 1) === 112 && s.charCodeAt(i + 2) === 111 && s.charCodeAt(i + 3) === 114 && s.charCodeAt(i + 4) === 116) {
        return c0 === 115 ? K_SPORT : c0 === 100 ? K_DPORT : K_OTHER;
      }
      return c0 === 98 && s.startsWith('ytes', i + 1) ? K_BYTES : K_OTHER;
    case 7:
      return c0 === 112 && s.startsWith('ackets', i + 1) ? K_PACKETS : K_OTHER;
    default:
      return K_OTHER;
  }
}

/** Common state words as shared constants (no string allocated per line). */
const STATES = [
  'ESTABLISHED', 'TIME_WAIT', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'CLOSE', 'NONE', 'CLOSED',
  'COOKIE_WAIT', 'COOKIE_ECHOED', 'SHUTDOWN_SENT', 'SHUTDOWN_RECD', 'SHUTDOWN_ACK_SENT',
];

function stateAt(s: string, start: number, end: number): string {
  const length = end - start;
  for (const state of STATES) if (state.length === length && s.startsWith(state, start)) return state;
  return s.slice(start, end);
}

/** Mutable per-direction accumulator, reused across calls (the parser is synchronous). */
class TupleScratch {
  src: string | undefined = undefined;
  dst: string | undefined = undefined;
  sport = -1;
  dport = -1;
  type = -1;
  code = -1;
  icmpId = -1;
  packets = -1;
  bytes = -1;

  reset(): void {
    this.src = undefined;
    this.dst = undefined;
    this.sport = -1;
    this.dport = -1;
    this.type = -1;
    this.code = -1;
    this.icmpId = -1;
    this.packets = -1;
    this.bytes = -1;
  }

  /** The finished tuple, or a reason it is incomplete. */
  build(l4: L4Info, which: string): ConntrackTuple | string {
    if (this.src === undefined || this.dst === undefined) return `${which} tuple without dst=`;
    if (l4.ports) {
      if (this.sport < 0 || this.dport < 0) return `${which} tuple without sport=/dport=`;
      return { src: this.src, dst: this.dst, sport: this.sport, dport: this.dport, icmp: undefined };
    }
    if (this.type < 0 || this.code < 0 || this.icmpId < 0) return `${which} tuple without type=/code=/id=`;
    return { src: this.src, dst: this.dst, sport: 0, dport: 0, icmp: { type: this.type, code: this.code, id: this.icmpId } };
  }
}

const scratch = [new TupleScratch(), new TupleScratch()] as const;

const EMPTY: ConntrackSkip = { kind: 'skip', reason: 'empty', detail: 'empty line' };

function skip(reason: SkipReason, detail: string): ConntrackSkip {
  return { kind: 'skip', reason, detail };
}

function malformed(detail: string, s?: string, start = 0, end = 0): ConntrackSkip {
  return { kind: 'skip', reason: 'malformed', detail: s === undefined ? detail : `${detail}: ${excerpt(s, start, end)}` };
}

/**
 * `sec[.frac]` of the `conntrack -E -o timestamp` prefix (`printf("[%-.8ld.%-.6ld]\t", …)`) as
 * milliseconds since the epoch, microseconds kept as the fraction; NaN when it is not one.
 */
function parseEpoch(s: string, start: number, end: number): number {
  const dot = s.indexOf('.', start);
  const secEnd = dot >= 0 && dot < end ? dot : end;
  const sec = parseUint(s, start, secEnd, 1e13);
  if (sec < 0) return NaN;
  if (secEnd === end) return sec * 1000;
  const fracLen = end - secEnd - 1;
  if (fracLen > 9) return NaN;
  const frac = parseUint(s, secEnd + 1, end, SAFE);
  if (frac < 0) return NaN;
  return sec * 1000 + (fracLen >= 3 ? frac / 10 ** (fracLen - 3) : frac * 10 ** (3 - fracLen));
}

function eventAt(s: string, start: number, end: number): ConntrackEventType | undefined {
  switch (end - start) {
    case 5:
      return s.startsWith('[NEW]', start) ? 'NEW' : undefined;
    case 8:
      return s.startsWith('[UPDATE]', start) ? 'UPDATE' : undefined;
    case 9:
      return s.startsWith('[DESTROY]', start) ? 'DESTROY' : undefined;
    default:
      return undefined;
  }
}

/** A protocol name token: lower-case letters and digits (`tcp`, `icmpv6`, `udplite`, `unknown`). */
function isProtoName(s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57))) return false;
  }
  return end - start > 0 && end - start <= 16;
}

/** A state word: `[A-Z][A-Z0-9_]*` (TCP `TIME_WAIT`, SCTP `COOKIE_ECHOED`, `SYN_SENT2`, …). */
function isStateWord(s: string, start: number, end: number): boolean {
  const c0 = s.charCodeAt(start);
  if (!(c0 >= 65 && c0 <= 90)) return false;
  for (let i = start + 1; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95)) return false;
  }
  return end - start <= 32;
}

/** Parses one conntrack line (any format above) into an entry, or says why it was skipped. */
export function parseConntrackLine(line: string, opts?: ParseConntrackOptions): ConntrackParseResult {
  const end = line.length;
  const maxLength = opts?.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
  if (end > maxLength) return skip('too-long', `${end} characters, limit ${maxLength}`);
  if (line.indexOf('\u0000') !== -1) return malformed('NUL byte in line');

  let i = skipSpaces(line, 0, end);
  if (i === end) return EMPTY;
  let te = tokenEnd(line, i, end);
  let c = line.charCodeAt(i);
  if (c === 35) return skip('empty', 'comment line');
  // conntrack-tools' stderr summary: "conntrack v1.4.7 (conntrack-tools): 16 flow entries have been shown."
  if (c === 99 && line.startsWith('conntrack v', i)) return skip('empty', 'conntrack-tools summary line');

  // [sec.usec]<TAB> (conntrack -E -o timestamp)
  let timestamp: number | undefined;
  if (c === 91 && te - i > 2 && line.charCodeAt(i + 1) >= 48 && line.charCodeAt(i + 1) <= 57) {
    const ms = line.charCodeAt(te - 1) === 93 ? parseEpoch(line, i + 1, te - 1) : NaN;
    if (Number.isNaN(ms)) return malformed('bad timestamp', line, i, te);
    timestamp = ms;
    i = skipSpaces(line, te, end);
    te = tokenEnd(line, i, end);
    c = line.charCodeAt(i);
  } else if (opts?.now !== undefined) {
    timestamp = opts.now;
  }

  // [NEW] / [UPDATE] / [DESTROY] (conntrack -E)
  let event: ConntrackEventType | undefined;
  if (c === 91) {
    event = eventAt(line, i, te);
    if (event === undefined) return malformed('unknown event type', line, i, te);
    i = skipSpaces(line, te, end);
    te = tokenEnd(line, i, end);
  }

  // ipv4 2 / ipv6 10 (-o extended, /proc)
  let family: ConntrackFamily | undefined;
  if (te - i === 4 && line.startsWith('ipv', i)) {
    const v = line.charCodeAt(i + 3);
    family = v === 52 ? 'ipv4' : v === 54 ? 'ipv6' : undefined;
    if (family !== undefined) {
      const ns = skipSpaces(line, te, end);
      const ne = tokenEnd(line, ns, end);
      if (parseUint(line, ns, ne, U8) !== FAMILY_NUMBER[family]) return malformed('bad address family number', line, i, ne);
      i = skipSpaces(line, ne, end);
      te = tokenEnd(line, i, end);
    }
  }

  // tcp 6 / udp 17 / icmp 1 / icmpv6 58 / sctp 132 / gre 47 / unknown 253 …
  if (i === end) return malformed('truncated before the protocol', line, 0, end);
  if (!isProtoName(line, i, te)) return malformed('not a conntrack line', line, i, te);
  const nameStart = i;
  const nameEnd = te;
  i = skipSpaces(line, te, end);
  te = tokenEnd(line, i, end);
  const protoNumber = parseUint(line, i, te, U8);
  if (protoNumber < 0) return malformed('bad protocol number', line, nameStart, te);
  const l4 = l4ByName(line, nameStart, nameEnd);
  if (l4 === undefined) return skip('unsupported-protocol', `${line.slice(nameStart, nameEnd)} ${protoNumber}`);
  if (l4.number !== protoNumber) return malformed('protocol name and number disagree', line, nameStart, te);
  if (family !== undefined && l4.family !== undefined && family !== l4.family) {
    return malformed('protocol does not exist in this address family', line, 0, te);
  }
  family ??= l4.family;

  // [timeout] [STATE]
  i = skipSpaces(line, te, end);
  te = tokenEnd(line, i, end);
  let timeout: number | undefined;
  const t = parseUint(line, i, te, U32);
  if (t >= 0) {
    timeout = t;
    i = skipSpaces(line, te, end);
    te = tokenEnd(line, i, end);
  }
  let state: string | undefined;
  if (i < end && isStateWord(line, i, te)) {
    state = stateAt(line, i, te);
    i = te;
  }

  // body: tuples, flags, key=value extras
  const orig = scratch[0];
  const repl = scratch[1];
  orig.reset();
  repl.reset();
  let dir = -1;
  let tuple: TupleScratch = orig;
  let unreplied = false;
  let assured = false;
  let offload: 'OFFLOAD' | 'HW_OFFLOAD' | undefined;
  let mark = 0;
  let zone = 0;
  let id = -1;

  for (;;) {
    i = skipSpaces(line, i, end);
    if (i >= end) break;
    if (line.charCodeAt(i) === 91) {
      te = tokenEnd(line, i, end);
      if (line.charCodeAt(te - 1) !== 93) {
        // a bracketed value with spaces: [start=Fri Nov 27 04:13:20 2026]
        const close = line.indexOf(']', te);
        i = close < 0 ? end : close + 1;
        continue;
      }
      switch (te - i) {
        case 11:
          if (line.startsWith('[UNREPLIED]', i)) unreplied = true;
          break;
        case 9:
          if (line.startsWith('[ASSURED]', i)) assured = true;
          else if (line.startsWith('[OFFLOAD]', i)) offload = 'OFFLOAD';
          break;
        case 12:
          if (line.startsWith('[HW_OFFLOAD]', i)) offload = 'HW_OFFLOAD';
          break;
        default:
          break; // [USERSPACE] and future flags
      }
      i = te;
      continue;
    }
    // key up to '=' (one pass: the value readers below find the token end themselves)
    let eq = i;
    let ch = 0;
    while (eq < end) {
      ch = line.charCodeAt(eq);
      if (ch === 61 || ch === 32 || (ch >= 9 && ch <= 13)) break;
      eq++;
    }
    if (eq === end || ch !== 61) {
      i = eq; // a bare word: nothing conntrack prints today; ignore it
      continue;
    }
    const key = keyId(line, i, eq - i);
    const vs = eq + 1;
    switch (key) {
      case K_SRC:
      case K_DST: {
        if (key === K_SRC) {
          if (++dir > 1) return malformed('more than two tuples', line, i, tokenEnd(line, i, end));
          tuple = dir === 0 ? orig : repl;
        } else if (dir < 0 || tuple.dst !== undefined) {
          return malformed('dst= outside a tuple', line, i, tokenEnd(line, i, end));
        }
        if (family === undefined) {
          const colon = line.indexOf(':', vs);
          family = colon >= 0 && colon < tokenEnd(line, vs, end) ? 'ipv6' : 'ipv4';
        }
        let address: string | undefined;
        if (family === 'ipv4') {
          address = readIPv4(line, vs, end);
          te = cursor.end;
        } else {
          te = tokenEnd(line, vs, end);
          address = parseIPv6(line, vs, te);
        }
        if (address === undefined) return malformed(`bad ${family} address`, line, i, te);
        if (key === K_SRC) tuple.src = address;
        else tuple.dst = address;
        break;
      }
      case K_SPORT:
      case K_DPORT: {
        const port = readUint(line, vs, end, U16);
        te = cursor.end;
        if (dir < 0 || !l4.ports) return malformed('port outside a port tuple', line, i, te);
        if (port < 0) return malformed('bad port', line, i, te);
        if (key === K_SPORT) {
          if (tuple.sport >= 0) return malformed('repeated sport=', line, i, te);
          tuple.sport = port;
        } else {
          if (tuple.dport >= 0) return malformed('repeated dport=', line, i, te);
          tuple.dport = port;
        }
        break;
      }
      case K_TYPE:
      case K_CODE: {
        const v = readUint(line, vs, end, U8);
        te = cursor.end;
        if (dir < 0 || l4.ports) return malformed('ICMP field outside an ICMP tuple', line, i, te);
        if (v < 0) return malformed('bad ICMP type/code', line, i, te);
        if (key === K_TYPE) tuple.type = v;
        else tuple.code = v;
        break;
      }
      case K_ID: {
        // ICMP `id=` follows `code=` inside a tuple; otherwise it is conntrack's `-o id`.
        if (!l4.ports && dir >= 0 && tuple.code >= 0 && tuple.icmpId < 0) {
          const v = readUint(line, vs, end, U16);
          te = cursor.end;
          if (v < 0) return malformed('bad ICMP id', line, i, te);
          tuple.icmpId = v;
        } else {
          id = readUint(line, vs, end, U32);
          te = cursor.end;
          if (id < 0) return malformed('bad conntrack id', line, i, te);
        }
        break;
      }
      case K_PACKETS:
      case K_BYTES: {
        const v = readUint(line, vs, end, SAFE);
        te = cursor.end;
        if (dir < 0 || v < 0) return malformed('bad counter', line, i, te);
        if (key === K_PACKETS) tuple.packets = v;
        else tuple.bytes = v;
        break;
      }
      case K_MARK:
        mark = readUint(line, vs, end, U32);
        te = cursor.end;
        if (mark < 0) return malformed('bad mark', line, i, te);
        break;
      case K_ZONE:
        zone = readUint(line, vs, end, U16);
        te = cursor.end;
        if (zone < 0) return malformed('bad zone', line, i, te);
        break;
      default:
        te = tokenEnd(line, vs, end); // use=, secctx=, labels=, delta-time=, zone-orig=, portid=, …
        break;
    }
    i = te;
  }

  if (dir < 0) return malformed('no tuple', line, 0, end);
  if (dir < 1) return malformed('missing reply tuple (truncated line?)', line, 0, end);
  const original = orig.build(l4, 'original');
  if (typeof original === 'string') return malformed(original);
  const reply = repl.build(l4, 'reply');
  if (typeof reply === 'string') return malformed(reply);

  const entry: ConntrackEntry = {
    family: family ?? 'ipv4',
    protocol: l4.protocol,
    event,
    timestamp,
    state,
    timeout,
    original,
    reply,
    unreplied,
    assured,
    offload,
    zone: zone === 0 ? undefined : zone,
    mark: mark === 0 ? undefined : mark,
    id: id < 0 ? undefined : id,
    counters:
      orig.packets >= 0 && orig.bytes >= 0 && repl.packets >= 0 && repl.bytes >= 0
        ? { original: { packets: orig.packets, bytes: orig.bytes }, reply: { packets: repl.packets, bytes: repl.bytes } }
        : undefined,
  };
  return { kind: 'entry', entry };
}
