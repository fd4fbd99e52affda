/** Route names as counted; `admin` routes are never counted. */
export type CountedRoute =
  | 'eligibility'
  | 'create'
  | 'status'
  | 'customers'
  | 'usageRecords'
  | 'subscriptions'
  | 'agreements'
  | 'token'
  | 'authorize'
  | 'devicecode'
  | 'unknown';

export interface CountersSnapshot {
  /** Since the simulator started or since the last reset (ISO, simulated time). */
  since: string;
  requests: Record<string, { total: number; byStatus: Record<string, number> }>;
  /** 429s served, per route. */
  throttled: { total: number; byRoute: Record<string, number> };
  /** Requests to the token endpoint (faulted ones included), per grant type; `succeeded` counts tokens issued. */
  tokenRequests: { total: number; succeeded: number; byGrant: Record<string, number> };
  /** Faults injected, per kind (status500, status503, status408, connectionReset, malformedJson, tokenExpiry). */
  faultsInjected: Record<string, number>;
  upgradesCreated: number;
}

function bump(record: Record<string, number>, key: string, by = 1): void {
  record[key] = (record[key] ?? 0) + by;
}

/** Plain objects keyed by name: O(1) increments, and the snapshot is a deep copy. */
export class Counters {
  private data!: CountersSnapshot;

  constructor(private readonly now: () => number) {
    this.reset();
  }

  reset(): void {
    this.data = {
      since: new Date(this.now()).toISOString(),
      requests: {},
      throttled: { total: 0, byRoute: {} },
      tokenRequests: { total: 0, succeeded: 0, byGrant: {} },
      faultsInjected: {},
      upgradesCreated: 0,
    };
  }

  response(route: CountedRoute, status: number): void {
    const entry = (this.data.requests[route] ??= { total: 0, byStatus: {} });
    entry.total++;
    bump(entry.byStatus, String(status));
    if (status === 429) {
      this.data.throttled.total++;
      bump(this.data.throttled.byRoute, route);
    }
  }

  tokenRequest(grantType: string): void {
    this.data.tokenRequests.total++;
    bump(this.data.tokenRequests.byGrant, grantType || '(none)');
  }

  tokenIssued(): void {
    this.data.tokenRequests.succeeded++;
  }

  fault(kind: string): void {
    bump(this.data.faultsInjected, kind);
  }

  upgradeCreated(): void {
    this.data.upgradesCreated++;
  }

  snapshot(): CountersSnapshot {
    return structuredClone(this.data);
  }
}
