/**
 * js-yaml's `dump` (block style, indent 2, no line folding, no anchors) for plain data, without
 * building its document tree: about ten times faster on generated policies, and the text is the
 * same byte for byte (./block-yaml.test.ts checks that against `dump` on random data).
 *
 * The layout rules are js-yaml's presenter's: a mapping's pairs and a sequence's items each start
 * a line indented 2 per level, except the first one of a sequence item or of the document
 * (written after `- `, or first in the file); a pair's value that is a non-empty collection starts
 * on the next line (`key:`), any other value follows `key: `; an empty mapping or sequence is `{}`
 * or `[]`; a key whose value is `undefined` is left out and an `undefined` item is `null`.
 *
 * How a string is written (plain, quoted, escaped) is left to `dump` itself, once per distinct
 * string ({@link scalarText}): for a string without a line feed that does not start with `---`
 * or `...`, js-yaml chooses the same text wherever the string stands (key or value, any depth),
 * because only line breaks, the document's first line and line folding (off here) depend on the
 * position. Anything else (other objects, such strings, keys written longer than 1,024 characters, numbers that
 * are not safe integers) makes {@link blockYaml} return `undefined`, and the caller dumps.
 */
import { dump } from 'js-yaml';

/** The options every hivewall YAML file is written with: one line per scalar, no anchors. */
export const DUMP_OPTIONS = { lineWidth: -1, noRefs: true, sortKeys: false } as const;

/** Distinct strings remembered with their text; cleared when full (a long-running operator renders many). */
const SCALAR_CACHE_LIMIT = 65_536;
const scalars = new Map<string, string>();

/** Returned by the writers below for a value they do not write as `dump` would. */
const UNSUPPORTED = Symbol('unsupported');
type Text = string | typeof UNSUPPORTED;

/** js-yaml writes a key whose text is longer as an explicit `? key` pair. */
const MAX_KEY_LENGTH = 1024;

const INDENTS: string[] = [];
function newline(level: number): string {
  return (INDENTS[level] ??= `\n${'  '.repeat(level)}`);
}

/**
 * Strings js-yaml may write plain by their characters alone: letters, digits, `_ . / -` and `:`
 * followed by one of those (YAML's ns-plain-char), the first not an indicator (`-`, `:`).
 */
const PLAIN_CHARACTERS = /^[A-Za-z0-9_./](?:[A-Za-z0-9_./-]|:(?=[A-Za-z0-9_./:-]))*$/;

/** The words of js-yaml's dump schema (YAML 1.1 booleans and null) that start with a letter and read as another type. */
const NOT_STRINGS = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'n', 'N', 'no', 'No', 'NO', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE', 'on', 'On', 'ON', 'off', 'Off', 'OFF', 'null', 'Null', 'NULL']);

/**
 * Whether a string of {@link PLAIN_CHARACTERS} reads back as a string, for the common cases:
 * with a `/` (no number, time or boolean has one: paths, label keys, CIDRs) or starting with a
 * letter and not a boolean or null word (numbers and times start with a digit, a sign or `.`).
 * False for the rest, which dump decides.
 */
function readsAsString(value: string): boolean {
  if (value.includes('/')) return true;
  const first = value.charCodeAt(0) | 0x20;
  return first >= 0x61 && first <= 0x7a && !NOT_STRINGS.has(value);
}

/** The text of a one-line string as js-yaml writes it, or {@link UNSUPPORTED}. */
function scalarText(value: string): Text {
  const known = scalars.get(value);
  if (known !== undefined) return known;
  if (value.includes('\n') || value.startsWith('---') || value.startsWith('...')) return UNSUPPORTED;
  // Most strings (names, labels, addresses) are plain; the rest are written by dump itself.
  const text = PLAIN_CHARACTERS.test(value) && readsAsString(value) ? value : dump(value, DUMP_OPTIONS).slice(0, -1);
  if (scalars.size >= SCALAR_CACHE_LIMIT) scalars.clear();
  scalars.set(value, text);
  return text;
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * `value` at depth `level` as js-yaml's block writer gives it. `compact`: the first line follows
 * what is already on the line (a sequence item's `- `, or the start of the document).
 */
function write(value: unknown, level: number, compact: boolean): Text {
  switch (typeof value) {
    case 'string':
      return scalarText(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return Number.isSafeInteger(value) && !Object.is(value, -0) ? String(value) : UNSUPPORTED;
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return writeSequence(value, level, compact);
      return isPlainObject(value) ? writeMapping(value, level, compact) : UNSUPPORTED;
    default:
      return UNSUPPORTED;
  }
}

function writeSequence(items: readonly unknown[], level: number, compact: boolean): Text {
  if (items.length === 0) return '[]';
  let out = '';
  for (let i = 0; i < items.length; i++) {
    const item = write(items[i] ?? null, level + 1, true);
    if (item === UNSUPPORTED) return UNSUPPORTED;
    out += (compact && i === 0 ? '- ' : `${newline(level)}- `) + item;
  }
  return out;
}

function writeMapping(object: Record<string, unknown>, level: number, compact: boolean): Text {
  let out = '';
  for (const key of Object.keys(object)) {
    const value = object[key];
    if (value === undefined) continue;
    const keyText = scalarText(key);
    if (keyText === UNSUPPORTED || keyText.length > MAX_KEY_LENGTH) return UNSUPPORTED;
    const valueText = write(value, level + 1, false);
    if (valueText === UNSUPPORTED) return UNSUPPORTED;
    if (!compact || out !== '') out += newline(level);
    out += keyText + (valueText.charCodeAt(0) === 0x0a ? ':' : ': ') + valueText;
  }
  return out === '' ? '{}' : out;
}

/** `dump(value, DUMP_OPTIONS)` for plain data, or `undefined` for anything this does not write. */
export function blockYaml(value: unknown): string | undefined {
  const text = write(value, 0, true);
  return text === UNSUPPORTED ? undefined : `${text}\n`;
}
