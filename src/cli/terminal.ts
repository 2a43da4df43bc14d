/**
 * Text bound for a terminal that carries input (names, reasons, comments from flows, snapshots and
 * API objects): control characters (C0 except tab and newline, DEL, C1) and the Unicode
 * bidirectional overrides are printed as `\uXXXX`, so input can neither drive the terminal (ANSI
 * escapes, OSC title changes, clearing the screen) nor reorder what a reviewer reads. The form is
 * also a valid escape inside JSON and double-quoted YAML strings.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

export function escapeControl(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
