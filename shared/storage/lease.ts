/**
 * A lease: who holds a row for a while (a poll run on an upgrade, a request on a webhook reservation, a callback
 * sender on an event). One representation everywhere: the holder's id and the end of the lease in epoch
 * milliseconds, stored as the two row properties `leaseOwner` and `leaseUntil`.
 */
export interface Lease {
  owner: string;
  /** Epoch ms. */
  until: number;
}

/** The row properties a lease is stored in. */
export interface LeaseFields {
  leaseOwner?: string;
  leaseUntil?: number;
}

export function newLease(owner: string, now: number, durationMs: number): Lease {
  return { owner, until: now + Math.max(0, durationMs) };
}

export function leaseFields(lease: Lease | undefined): LeaseFields {
  return lease
    ? { leaseOwner: lease.owner, leaseUntil: lease.until }
    : { leaseOwner: undefined, leaseUntil: undefined };
}

/** The lease stored on a row, if any (a row written without one, or with a malformed one, has none). */
export function leaseOf(row: { leaseOwner?: unknown; leaseUntil?: unknown } | undefined): Lease | undefined {
  if (!row || typeof row.leaseOwner !== 'string' || row.leaseOwner === '') return undefined;
  const until = Number(row.leaseUntil);
  return Number.isFinite(until) ? { owner: row.leaseOwner, until } : undefined;
}

/** True while a lease is in force at `now`. */
export function isLive(lease: Lease | undefined, now: number): lease is Lease {
  return lease !== undefined && lease.until > now;
}

/** True when someone other than `owner` holds a lease in force at `now`. */
export function heldByOther(lease: Lease | undefined, owner: string, now: number): boolean {
  return isLive(lease, now) && lease.owner !== owner;
}

/** Milliseconds left on a lease at `now` (0 when none or over). */
export function remainingMs(lease: Lease | undefined, now: number): number {
  return isLive(lease, now) ? lease.until - now : 0;
}
