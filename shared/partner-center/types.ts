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

/*
 * The fleet: the partner's customers, their subscriptions, usage records and agreements (all GET). A scan of the
 * whole customer base depends on the CustomerDirectory interface; the client in this folder implements it on the
 * same pipeline as the product-upgrade operations.
 */

/** The offer id of the legacy Microsoft Azure subscription (the one an upgrade moves to an Azure plan). */
export const LEGACY_AZURE_OFFER_ID = 'MS-AZR-0145P';

/** Azure plan offer ids start with this product id (e.g. `DZH318Z0BPS6:0001:DZH318Z0BML6`). */
export const AZURE_PLAN_PRODUCT_ID = 'DZH318Z0BPS6';

/** The agreement type the upgrade needs; always passed, because the service defaults to an older type. */
export const CUSTOMER_AGREEMENT_TYPE = 'MicrosoftCustomerAgreement';

export interface Customer {
  /** The customer tenant id (GUID, lower case). */
  id: string;
  tenantId?: string;
  domain?: string;
  companyName?: string;
  /** As Partner Center sent it ("reseller", "advisor", ...); absent when the item had none. */
  relationshipToPartner?: string;
}

/** Documented subscription statuses; anything else is `unknown` (the raw value is kept). */
export type SubscriptionStatus = 'none' | 'active' | 'pending' | 'suspended' | 'deleted' | 'unknown';

export interface CustomerSubscription {
  id: string;
  /** As sent (`MS-AZR-0145P` for legacy Azure; '' when missing). */
  offerId: string;
  /** The Azure subscription id, when Partner Center sent one. */
  entitlementId?: string;
  friendlyName?: string;
  quantity?: number;
  status: SubscriptionStatus;
  rawStatus: string;
  billingType?: string;
  /** MPN id of the reseller of record (indirect model); absent for a direct partner's own subscriptions. */
  partnerId?: string;
  creationDate?: string;
  effectiveStartDate?: string;
  commitmentEndDate?: string;
}

/** A customer's subscriptions, with the offer filter applied in code (the service has no filter by offer). */
export interface CustomerSubscriptions {
  customerId: string;
  /** Every subscription Partner Center listed. */
  all: CustomerSubscription[];
  /** Legacy Microsoft Azure (`MS-AZR-0145P`) subscriptions, any status. */
  legacy: CustomerSubscription[];
  /** Azure plan subscriptions (offer id starting `DZH318Z0BPS6`), any status. */
  azurePlans: CustomerSubscription[];
}

export interface CustomerUsageRecord {
  /** The customer id (the record's `id`, else its `resourceId`; GUID, lower case). */
  customerId: string;
  companyName?: string;
  /** True: the customer has an Azure plan. Absent when the record did not say. */
  isUpgraded?: boolean;
  budgetAmount?: number;
  percentUsed?: number;
  totalCost?: number;
  usdTotalCost?: number;
  currencyCode?: string;
  currencyLocale?: string;
  lastModifiedDate?: string;
}

export interface CustomerAgreement {
  /** Always `MicrosoftCustomerAgreement` (items of other types are dropped). */
  type: string;
  templateId?: string;
  dateAgreed?: string;
  agreementLink?: string;
  primaryContact?: { firstName?: string; lastName?: string; email?: string; phoneNumber?: string };
}

/** The paged collections: a cursor names its list, so a stored cursor is never replayed against another one. */
export type PagedList = 'customers' | 'usageRecords' | 'subscriptions' | 'agreements';

/**
 * Where the next page of a list is: the next link exactly as Partner Center sent it and the headers to send with it
 * (`MS-ContinuationToken`). Plain JSON: a scan stores it after each page and resumes from it after a crash.
 */
export interface PageCursor {
  list: PagedList;
  uri: string;
  headers: Record<string, string>;
}

export interface Page<T> {
  items: T[];
  /** Items on the page that could not be read (no usable id): counted, never invented. */
  unreadable: number;
  /** The next page; absent on the last page. */
  next?: PageCursor;
  /** `totalCount` as Partner Center sent it, when it did. */
  totalCount?: number;
  /** MS-RequestId of the request that fetched this page (each page is its own logical call). */
  requestId: string;
}

export interface ListOptions extends CallOptions {
  /**
   * Items per page (`size`), 1–500. Customers default to 500; usage records send no size unless given. A resumed
   * listing keeps the size its next link carries.
   */
  pageSize?: number;
  /** Continue a listing from a stored cursor instead of its first page. */
  resumeFrom?: PageCursor;
}

/**
 * Every failure comes out as a PartnerCenterError (or a credential error) with the usual categories — from the call,
 * or from the iteration for the lists. A list fails a page it cannot read or follow before yielding it, so the last
 * cursor a caller stored always resumes.
 */
export interface CustomerDirectory {
  /** Every customer of the partner, a page at a time, following the continuation to the end. */
  listCustomers(options?: ListOptions): AsyncIterableIterator<Page<Customer>>;
  /** One usage record per customer with Azure (`isUpgraded`), a page at a time. */
  listUsageRecords(options?: ListOptions): AsyncIterableIterator<Page<CustomerUsageRecord>>;
  /** A customer's subscriptions (`resellerMpnId` narrows them to one reseller of record). */
  getCustomerSubscriptions(
    customerId: string,
    options?: CallOptions & { resellerMpnId?: string },
  ): Promise<CustomerSubscriptions>;
  /** The customer's attested Microsoft Customer Agreements (empty: none attested). */
  getCustomerAgreements(customerId: string, options?: CallOptions): Promise<CustomerAgreement[]>;
}
