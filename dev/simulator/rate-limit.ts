import { validateRateLimits, type BucketSpec, type RateLimitSpec } from './scenario';

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export type RateDecision =
  { allowed: true } | { allowed: false; retryAfterSeconds: number; scope: 'partner' | 'customer' };

/**
 * Token buckets per partner tenant and per partner + customer (Partner Center's throttling guidance: both scopes
 * exist and no numbers are published, so both are settings). Buckets refill on REAL time: clients wait Retry-After in
 * real seconds, whatever the speed of the simulated clock.
 */
export class RateLimiter {
  private spec: RateLimitSpec = {};
  private readonly partnerBuckets = new Map<string, Bucket>();
  private readonly customerBuckets = new Map<string, Bucket>();

  constructor(
    spec: RateLimitSpec | undefined,
    private readonly realNow: () => number = () => performance.now(),
  ) {
    this.configure(spec ?? {});
  }

  /** Replaces the limits (buckets start full again). */
  configure(spec: RateLimitSpec): void {
    this.spec = validateRateLimits(spec);
    this.partnerBuckets.clear();
    this.customerBuckets.clear();
  }

  snapshot(): RateLimitSpec {
    return { perPartner: this.spec.perPartner ?? null, perCustomer: this.spec.perCustomer ?? null };
  }

  private refill(map: Map<string, Bucket>, key: string, spec: BucketSpec, now: number): Bucket {
    const capacity = Math.max(1, spec.burst ?? spec.ratePerSecond);
    let bucket = map.get(key);
    if (!bucket) {
      bucket = { tokens: capacity, updatedAt: now };
      map.set(key, bucket);
    } else {
      bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.updatedAt) / 1000) * spec.ratePerSecond);
      bucket.updatedAt = now;
    }
    return bucket;
  }

  private static wait(bucket: Bucket, spec: BucketSpec): number {
    return Math.max(1, Math.ceil((1 - bucket.tokens) / spec.ratePerSecond));
  }

  /** Takes one token from both buckets, or none when either is empty. */
  take(partnerTenantId: string, customerId: string | undefined): RateDecision {
    const now = this.realNow();
    const partnerSpec = this.spec.perPartner ?? undefined;
    const customerSpec = customerId ? (this.spec.perCustomer ?? undefined) : undefined;
    const partner = partnerSpec ? this.refill(this.partnerBuckets, partnerTenantId, partnerSpec, now) : undefined;
    const customer =
      customerSpec && customerId
        ? this.refill(this.customerBuckets, `${partnerTenantId}|${customerId.toLowerCase()}`, customerSpec, now)
        : undefined;
    if (partner && partnerSpec && partner.tokens < 1) {
      return { allowed: false, retryAfterSeconds: RateLimiter.wait(partner, partnerSpec), scope: 'partner' };
    }
    if (customer && customerSpec && customer.tokens < 1) {
      return { allowed: false, retryAfterSeconds: RateLimiter.wait(customer, customerSpec), scope: 'customer' };
    }
    if (partner) partner.tokens -= 1;
    if (customer) customer.tokens -= 1;
    return { allowed: true };
  }
}
