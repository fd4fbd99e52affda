/** Summaries of repeated measurements: every figure in the report is a median over runs, with min and max. */

export interface Figure {
  median: number;
  min: number;
  max: number;
  runs: number;
  values: number[];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Nearest-rank percentile (p in [0, 100]). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, v) => sum + v, 0) / values.length;
}

export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function figure(values: readonly number[], digits = 3): Figure {
  const finite = values.filter((v) => Number.isFinite(v));
  return {
    median: round(median(finite), digits),
    min: round(Math.min(...finite), digits),
    max: round(Math.max(...finite), digits),
    runs: finite.length,
    values: finite.map((v) => round(v, digits)),
  };
}

/** Collects one figure per named metric across repeated runs. */
export class Repeats {
  private readonly series = new Map<string, number[]>();

  add(sample: Record<string, number>): void {
    for (const [name, value] of Object.entries(sample)) {
      const list = this.series.get(name) ?? [];
      list.push(value);
      this.series.set(name, list);
    }
  }

  figures(digits = 3): Record<string, Figure> {
    return Object.fromEntries([...this.series].map(([name, values]) => [name, figure(values, digits)]));
  }
}
