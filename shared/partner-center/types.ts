/**
 * The Partner Center product-upgrade operations as the rest of the app sees them. `shared/tracking` and the
 * functions depend on this interface, not on HTTP; the client in this folder implements it.
 */

export type ProductFamily = string; // "Azure" is the only family the service knows

export interface ProductUpgradeRequest {
  customerId: string;
  productFamily: ProductFamily;
}

export interface Eligibility {
  customerId: string;
  productFamily: ProductFamily;
  isEligible: boolean;
  reason?: string;
  upgradeId?: string;
}

/** Normalized status: the known values, or `Unknown` when Partner Center sent something we do not recognize. */
export type NormalizedUpgradeStatus = 'Pending' | 'InProgress' | 'Completed' | 'Failed' | 'Cancelled' | 'Unknown';

export interface PartnerCenterErrorDetails {
  code?: string;
  description?: string;
}

export interface UpgradeLineItem {
  sourceProduct: { id: string; name: string };
  targetProduct: { id: string; name: string };
  upgradedDate?: string;
  /** The raw status string as Partner Center sent it. */
  status: string;
  errorDetails?: PartnerCenterErrorDetails;
}

export interface UpgradeStatusResult {
  upgradeId: string;
  productFamily: ProductFamily;
  /** The raw status string as Partner Center sent it (kept verbatim). */
  rawStatus: string;
  status: NormalizedUpgradeStatus;
  /** Completed, Failed or Cancelled. Unknown statuses are never terminal. */
  isTerminal: boolean;
  lineItems: UpgradeLineItem[];
  errorDetails?: PartnerCenterErrorDetails;
}

/** Per-call options every operation accepts. */
export interface CallOptions {
  /** Ties the call to the inbound request or poll run; sent as MS-CorrelationId (a new GUID when absent). */
  correlationId?: string;
  /** The caller's deadline; retries stop when it fires. */
  abortSignal?: AbortSignal;
  /**
   * What a 429 does: `wait` (default) waits out its Retry-After inside the client (up to the client's cap) and tries
   * again; `return` fails the call at once with a throttled error carrying the Retry-After, for callers that share a
   * rate gate and must pause all their calls, not just this one (the poll run).
   */
  throttling?: 'wait' | 'return';
}

export interface CreateUpgradeResult {
  upgradeId: string;
  /** The MS-RequestId the create was sent with (kept for idempotent replays). */
  requestId: string;
}

export interface ProductUpgrades {
  checkEligibility(request: ProductUpgradeRequest, options?: CallOptions): Promise<Eligibility>;
  createUpgrade(
    request: ProductUpgradeRequest,
    options?: CallOptions & { requestId?: string },
  ): Promise<CreateUpgradeResult>;
  getUpgradeStatus(
    request: ProductUpgradeRequest & { upgradeId: string },
    options?: CallOptions,
  ): Promise<UpgradeStatusResult>;
}
