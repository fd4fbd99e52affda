import { createPrng, type Prng } from './prng';
import { FAULT_ROUTES, validateFaultSpec, type FaultRoute, type FaultSpec } from './scenario';

/** What to do to one request; drawn once, before the request is handled. */
export interface FaultDecision {
  /** Destroy the socket: before handling (nothing happens) or after (the work is done, the answer lost). */
  reset?: 'before' | 'after';
  status?: 500 | 503 | 408 | 429;
  /** Retry-After of an injected 429. */
  retryAfterSeconds: number;
  /** Strip Retry-After from any 429 on this request. */
  omitRetryAfter: boolean;
  malformedJson: boolean;
  tokenExpiry: boolean;
  /** Real milliseconds to wait before writing the response. */
  latencyMs: number;
}

export type FaultedRoute = Exclude<FaultRoute, '*'>;

/**
 * Per-route fault settings; `*` applies to every route and a route's own settings override it field by field.
 * A seeded PRNG decides, so a run with the same seed and the same request order injects the same faults.
 */
export class FaultInjector {
  private readonly specs = new Map<FaultRoute, FaultSpec>();
  private prng: Prng;

  constructor(seed: number, initial: Partial<Record<FaultRoute, FaultSpec>> = {}) {
    this.prng = createPrng(seed);
    for (const [route, spec] of Object.entries(initial)) this.set(route as FaultRoute, spec);
  }

  /** Replaces a route's faults; null or {} clears them. */
  set(route: FaultRoute, spec: FaultSpec | null): void {
    if (!FAULT_ROUTES.includes(route)) throw new RangeError(`unknown fault route ${String(route)}`);
    if (spec === null || Object.keys(spec).length === 0) {
      this.specs.delete(route);
      return;
    }
    this.specs.set(route, { ...validateFaultSpec(spec, `faults.${route}`) });
  }

  clear(): void {
    this.specs.clear();
  }

  reseed(seed: number): void {
    this.prng = createPrng(seed);
  }

  snapshot(): Partial<Record<FaultRoute, FaultSpec>> {
    return Object.fromEntries(this.specs);
  }

  effective(route: FaultedRoute): FaultSpec {
    return { ...this.specs.get('*'), ...this.specs.get(route) };
  }

  /** One request covered by the route's entry: an entry with `times` left is lifted after its last one. */
  private countDown(route: FaultRoute): void {
    const entry = this.specs.get(route);
    if (entry?.times === undefined) return;
    if (entry.times > 1) this.specs.set(route, { ...entry, times: entry.times - 1 });
    else this.specs.delete(route);
  }

  private chance(p: number | undefined): boolean {
    return p !== undefined && p > 0 && this.prng.next() < p;
  }

  decide(route: FaultedRoute): FaultDecision {
    const decision: FaultDecision = {
      malformedJson: false,
      tokenExpiry: false,
      latencyMs: 0,
      retryAfterSeconds: 1,
      omitRetryAfter: false,
    };
    if (this.specs.size === 0) return decision;
    const spec = this.effective(route);
    this.countDown('*');
    this.countDown(route);
    decision.retryAfterSeconds = spec.retryAfterSeconds ?? 1;
    decision.omitRetryAfter = spec.omitRetryAfter ?? false;
    if (this.chance(spec.connectionReset)) decision.reset = spec.connectionResetPhase ?? 'after';
    const p500 = spec.status500 ?? 0;
    const p503 = spec.status503 ?? 0;
    const p408 = spec.status408 ?? 0;
    const p429 = spec.status429 ?? 0;
    if (p500 + p503 + p408 + p429 > 0) {
      const u = this.prng.next();
      if (u < p500) decision.status = 500;
      else if (u < p500 + p503) decision.status = 503;
      else if (u < p500 + p503 + p408) decision.status = 408;
      else if (u < p500 + p503 + p408 + p429) decision.status = 429;
    }
    decision.malformedJson = this.chance(spec.malformedJson);
    decision.tokenExpiry = this.chance(spec.tokenExpiry);
    decision.latencyMs = (spec.latencyMs ?? 0) + (spec.latencyJitterMs ? this.prng.next() * spec.latencyJitterMs : 0);
    return decision;
  }
}
