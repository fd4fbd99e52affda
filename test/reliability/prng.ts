import { createPrng } from '../../dev/simulator/prng';

/** A small seeded PRNG (mulberry32): the same seed gives the same faults, delays and interleavings. */
export interface Prng {
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  shuffle<T>(items: T[]): T[];
  /** An independent stream derived from this one (so adding draws in one place does not shift another). */
  fork(): Prng;
}

export function prng(seed: number): Prng {
  // The simulator's generator (mulberry32): one implementation, so a printed seed means the same draws everywhere.
  const { next } = createPrng(seed);
  const self: Prng = {
    seed,
    next,
    int: (n) => Math.floor(next() * n),
    shuffle<T>(items: T[]): T[] {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [items[i], items[j]] = [items[j], items[i]];
      }
      return items;
    },
    fork: () => prng(Math.floor(next() * 2 ** 32)),
  };
  return self;
}

/** The seed for a test: RELIABILITY_SEED when set (to replay a failure), else a fresh one; always printed. */
export function seedFor(name: string): number {
  const fixed = process.env.RELIABILITY_SEED;
  const seed = fixed ? Number(fixed) : Math.floor(Math.random() * 2 ** 31);
  console.log(`[reliability] ${name}: seed ${seed} (replay with RELIABILITY_SEED=${seed})`);
  return seed;
}
