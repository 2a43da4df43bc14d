/**
 * JSON text that does not depend on key order: the API server returns an object's fields in its
 * own order, so two objects are compared (drift, an unchanged status, an informer update) by this
 * text. Arrays keep their order; undefined values are left out, as JSON.stringify leaves them out.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortedKeys(value));
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}
