/** Parsing shared by the commands' repeatable, comma-separated options. */

/**
 * A list option: the flag's values if given (repeatable), else the environment variable's; every
 * value may hold several items, comma-separated (`10.0.0.0/16,fd00::/56`). Empty items are ignored.
 */
export function listOption(flag: readonly string[] | undefined, envValue: string | undefined): string[] | undefined {
  const values = flag !== undefined && flag.length > 0 ? flag : envValue !== undefined ? [envValue] : [];
  const items = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  return items.length > 0 ? items : undefined;
}
