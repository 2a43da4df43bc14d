/**
 * Seeded randomness for the shop example: mulberry32, so that every run of the generator
 * produces byte-identical files. Nothing here reads the clock or Math.random.
 */

/** Pod / ReplicaSet name suffix alphabet (k8s.io/apimachinery rand.SafeEncodeString). */
const K8S_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const HEX = '0123456789abcdef';

/** mulberry32's output for a state that was just advanced by {@link MULBERRY32_STEP}. */
function mulberry32Output(state: number): number {
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const MULBERRY32_STEP = 0x6d2b79f5;

/**
 * mulberry32: a small, fast, seeded generator of uniform numbers in [0, 1). The project's one copy,
 * also used by the benchmarks' input generators and by property tests that must be replayable.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + MULBERRY32_STEP) >>> 0;
    return mulberry32Output(state);
  };
}

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + MULBERRY32_STEP) >>> 0;
    return mulberry32Output(this.state);
  }

  /** Integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Exponentially distributed value with the given mean. */
  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** A string of `n` characters from the Kubernetes name-suffix alphabet. */
  k8sSuffix(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += K8S_ALPHABET[Math.floor(this.next() * K8S_ALPHABET.length)];
    return s;
  }

  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += HEX[Math.floor(this.next() * 16)];
    return s;
  }

  /** A random (version 4) UUID. */
  uuid(): string {
    const variant = HEX[8 + Math.floor(this.next() * 4)];
    return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-${variant}${this.hex(3)}-${this.hex(12)}`;
  }

  /** Fisher–Yates, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /** An independent generator derived from this one (so adding draws elsewhere changes nothing here). */
  fork(salt: string): Rng {
    let h = 2166136261 ^ this.state;
    for (let i = 0; i < salt.length; i++) h = Math.imul(h ^ salt.charCodeAt(i), 16777619);
    return new Rng(h >>> 0);
  }
}

/** A generator keyed by a name only: the same name always gives the same stream. */
export function rngFor(name: string, seed = 0x5eed_2026): Rng {
  return new Rng(seed).fork(name);
}
