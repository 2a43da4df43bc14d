/**
 * The status write as a JSON merge patch (RFC 7386, what `Kube.patchStatus` sends): the API server
 * merges objects key by key and replaces everything else whole, so a key the written status no
 * longer has must be sent as null — at any depth, or a nested field such as
 * `enforcement.rolledBack` or `learning.refusedEdges` would stay on the server forever.
 */
import type { SegmentationStatus } from '../../api/segmentation.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The merge patch that turns status `old` into `next`. */
export function statusPatch(old: SegmentationStatus | undefined, next: SegmentationStatus): Json {
  return mergePatchTo(old ?? {}, next as Json);
}

/**
 * `next`, with null for every key of `old` it lacks, recursively where both sides hold an object.
 * Arrays and scalars are replaced whole by a merge patch: they are sent as they are.
 */
function mergePatchTo(old: Json, next: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(next)) {
    if (value === undefined) continue;
    const before = old[key];
    out[key] = isObject(value) && isObject(before) ? mergePatchTo(before, value) : value;
  }
  for (const key of Object.keys(old)) if (!(key in out)) out[key] = null;
  return out;
}
