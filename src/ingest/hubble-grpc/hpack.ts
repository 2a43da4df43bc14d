/**
 * HPACK (RFC 7541), HTTP/2's header compression, as far as a client of one gRPC call needs it. Pure.
 *
 * - {@link HpackDecoder} decodes the server's header blocks: every representation (indexed §6.1,
 *   literal with incremental indexing §6.2.1, without indexing §6.2.2, never indexed §6.2.3, dynamic
 *   table size update §6.3), Huffman-coded strings (§5.2, Appendix B), and the dynamic table with
 *   its eviction (§4.4) within the SETTINGS_HEADER_TABLE_SIZE the client announced. The decoder
 *   must see every header block of the connection, in order, or its table goes out of step.
 * - {@link encodeHeaderBlock} encodes the request headers as literals without indexing and without
 *   Huffman coding (§6.2.2): a call sends one header block, so a table would save nothing.
 *
 * Every violation is an {@link HpackError}: a COMPRESSION_ERROR, which ends the connection (RFC 7540
 * §4.3). Header values are octets; they are read and written as latin1 text, one character per octet.
 */
import { HUFFMAN_CODES, HUFFMAN_CODE_LENGTHS, STATIC_TABLE } from './hpack-tables.js';

/** A header block that cannot be decoded (HTTP/2 COMPRESSION_ERROR). */
export class HpackError extends Error {}

export type HeaderField = readonly [name: string, value: string];

/** HTTP/2's default SETTINGS_HEADER_TABLE_SIZE. */
export const DEFAULT_HEADER_TABLE_SIZE = 4096;

/** The size an entry counts in the dynamic table: its octets plus 32 (§4.1). */
function entrySize(name: string, value: string): number {
  return name.length + value.length + 32;
}

export class HpackDecoder {
  /** The dynamic table, newest entry first (dynamic index 62 is `[0]`). */
  private readonly table: HeaderField[] = [];
  private tableBytes = 0;
  /** The table's current maximum size: set by size updates, never above {@link limit}. */
  private maxTableBytes: number;

  constructor(
    /** The SETTINGS_HEADER_TABLE_SIZE announced to the peer. */
    private readonly limit = DEFAULT_HEADER_TABLE_SIZE,
    /** The largest decoded header list accepted (names, values and 32 octets per field, as SETTINGS_MAX_HEADER_LIST_SIZE counts). */
    private readonly maxListBytes = 64 * 1024,
  ) {
    this.maxTableBytes = limit;
  }

  /** The fields of one complete header block, in order. */
  decode(block: Uint8Array): HeaderField[] {
    const fields: HeaderField[] = [];
    let listBytes = 0;
    const reader = new BlockReader(block);
    while (!reader.done) {
      const first = reader.peek();
      let field: HeaderField;
      if (first & 0x80) {
        field = this.entry(reader.integer(7));
      } else if (first & 0x40) {
        field = this.literal(reader, 6);
        this.insert(field);
      } else if (first & 0x20) {
        // A size update is allowed only at the start of a block (§4.2).
        if (fields.length > 0) throw new HpackError('dynamic table size update after a header field');
        const size = reader.integer(5);
        if (size > this.limit) throw new HpackError(`dynamic table size update to ${size}, above the announced ${this.limit}`);
        this.maxTableBytes = size;
        this.evict(0);
        continue;
      } else {
        field = this.literal(reader, 4);
      }
      listBytes += entrySize(field[0], field[1]);
      if (listBytes > this.maxListBytes) throw new HpackError(`header list larger than ${this.maxListBytes} octets`);
      fields.push(field);
    }
    return fields;
  }

  /** The field at `index` of the combined static + dynamic index space (§2.3.3). */
  private entry(index: number): HeaderField {
    if (index === 0) throw new HpackError('header field index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
    const field = this.table[index - STATIC_TABLE.length - 1];
    if (field === undefined) throw new HpackError(`header field index ${index} beyond the dynamic table`);
    return field;
  }

  /** A literal field whose name index has a `prefix`-bit integer: an indexed name or a literal one. */
  private literal(reader: BlockReader, prefix: number): HeaderField {
    const nameIndex = reader.integer(prefix);
    const name = nameIndex === 0 ? reader.string() : this.entry(nameIndex)[0];
    return [name, reader.string()];
  }

  /** Adds a field to the table, evicting the oldest entries to make room (§4.4). */
  private insert(field: HeaderField): void {
    const size = entrySize(field[0], field[1]);
    // An entry larger than the table empties it and is not added.
    this.evict(Math.min(size, this.maxTableBytes + 1));
    if (size > this.maxTableBytes) return;
    this.table.unshift(field);
    this.tableBytes += size;
  }

  /** Evicts until `room` more octets fit within the current maximum. */
  private evict(room: number): void {
    while (this.table.length > 0 && this.tableBytes + room > this.maxTableBytes) {
      const [name, value] = this.table.pop()!;
      this.tableBytes -= entrySize(name, value);
    }
  }
}

/** Reads integers (§5.1) and strings (§5.2) of one header block. */
class BlockReader {
  private pos = 0;
  constructor(private readonly block: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.block.length;
  }

  peek(): number {
    return this.block[this.pos]!;
  }

  /** An integer with an N-bit prefix in the current octet (its other bits are the caller's). */
  integer(prefix: number): number {
    const block = this.block;
    if (this.pos >= block.length) throw new HpackError('header block ends inside an integer');
    const max = (1 << prefix) - 1;
    let value = block[this.pos++]! & max;
    if (value < max) return value;
    // Continuation octets, 7 bits each; more than 2^28 is nothing a header block needs.
    for (let shift = 0; ; shift += 7) {
      if (shift > 21) throw new HpackError('integer too large in header block');
      if (this.pos >= block.length) throw new HpackError('header block ends inside an integer');
      const octet = block[this.pos++]!;
      value += (octet & 0x7f) * 2 ** shift;
      if ((octet & 0x80) === 0) return value;
    }
  }

  /** A string literal: H bit, 7-bit-prefix length, octets (Huffman-coded when H is set). */
  string(): string {
    if (this.pos >= this.block.length) throw new HpackError('header block ends before a string');
    const huffman = (this.block[this.pos]! & 0x80) !== 0;
    const length = this.integer(7);
    const start = this.pos;
    const end = start + length;
    if (end > this.block.length) throw new HpackError('string literal runs past the header block');
    this.pos = end;
    return huffman ? huffmanDecode(this.block, start, end) : latin1(this.block, start, end);
  }
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/**
 * The Huffman code as a binary trie: node `n`'s children are at `TRIE[2n]` (bit 0) and
 * `TRIE[2n + 1]` (bit 1); a child `c > 0` is an inner node, `c < 0` the leaf of symbol `-c - 1`,
 * 0 no code.
 */
const TRIE = buildTrie();

function buildTrie(): Int32Array {
  const trie = new Int32Array(2 * 1024);
  let nodes = 1;
  for (let symbol = 0; symbol < HUFFMAN_CODES.length; symbol++) {
    const code = HUFFMAN_CODES[symbol]!;
    const length = HUFFMAN_CODE_LENGTHS[symbol]!;
    let node = 0;
    for (let bit = length - 1; bit > 0; bit--) {
      const slot = 2 * node + ((code >>> bit) & 1);
      if (trie[slot] === 0) trie[slot] = nodes++;
      node = trie[slot]!;
    }
    trie[2 * node + (code & 1)] = -symbol - 1;
  }
  return trie;
}

const EOS = 256;

/**
 * Decodes a Huffman-coded string (§5.2): the padding must be fewer than 8 bits and all ones (a
 * prefix of EOS), and EOS itself must not appear.
 */
export function huffmanDecode(bytes: Uint8Array, start: number, end: number): string {
  const out = Buffer.allocUnsafe((end - start) * 2);
  let length = 0;
  let node = 0;
  /** Bits read since the last symbol, and whether all of them were ones. */
  let pending = 0;
  let allOnes = true;
  for (let i = start; i < end; i++) {
    const octet = bytes[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      const one = (octet >>> bit) & 1;
      const next = TRIE[2 * node + one]!;
      pending++;
      if (one === 0) allOnes = false;
      if (next > 0) {
        node = next;
        continue;
      }
      if (next === 0) throw new HpackError('invalid Huffman code');
      const symbol = -next - 1;
      if (symbol === EOS) throw new HpackError('EOS inside a Huffman-coded string');
      out[length++] = symbol;
      node = 0;
      pending = 0;
      allOnes = true;
    }
  }
  if (pending > 7 || !allOnes) throw new HpackError('invalid Huffman padding');
  return out.toString('latin1', 0, length);
}

/** A header block of literal fields without indexing, new names, raw strings (§6.2.2). */
export function encodeHeaderBlock(fields: readonly HeaderField[]): Buffer {
  const parts: number[] = [];
  const integer = (value: number, prefix: number, first: number): void => {
    const max = (1 << prefix) - 1;
    if (value < max) {
      parts.push(first | value);
      return;
    }
    parts.push(first | max);
    let rest = value - max;
    while (rest >= 0x80) {
      parts.push((rest & 0x7f) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    parts.push(rest);
  };
  const string = (text: string): void => {
    const bytes = Buffer.from(text, 'latin1');
    integer(bytes.length, 7, 0);
    for (const b of bytes) parts.push(b);
  };
  for (const [name, value] of fields) {
    parts.push(0x00);
    string(name);
    string(value);
  }
  return Buffer.from(parts);
}
