import type { PageCursor, SubscriptionStatus } from '../partner-center/types';
import type { Lease } from '../storage/lease';

/**
 * The fleet's records: what a scan learned of each customer (its facts), what that means (its state, the reason and
 * the operator's next step), and the scan itself (cursor, counts, lease).
 */

/** What the usage records said of a customer: none (no Azure at all), legacy Azure only, or an Azure plan. */
export type UsageTriage = 'none' | 'legacy' | 'azure-plan';

/** A legacy Microsoft Azure (MS-AZR-0145P) subscription. */
export interface LegacySubscription {
  id: string;
  status: SubscriptionStatus;
  /** MPN id of the reseller of record (indirect model); absent for the partner's own. */
  partnerId?: string;
  /** The Azure subscription id. */
  entitlementId?: string;
  friendlyName?: string;
}

export interface AzurePlanSubscription {
  id: string;
  status: SubscriptionStatus;
  partnerId?: string;
}

/**
 * The Microsoft Customer Agreement: read (`attested` / `not-attested`), implied by an Azure plan (which is sold only
 * under that agreement, so no call is made), or not checked (no Azure, advisor: it decides nothing there).
 */
export type AgreementFact = 'attested' | 'not-attested' | 'implied-by-azure-plan' | 'not-checked';

/** Partner Center's eligibility answer, or its refusal (a business rule's code and description). */
export interface EligibilityFact {
  isEligible: boolean;
  /** Partner Center's words, verbatim (the answer's `reason`, or a refusal's description). */
  reason?: string;
  /** The code of a refusal (403 20002, 409 900109, ...), when Partner Center answered with one. */
  code?: number;
  /** An upgrade that exists for the customer. */
  upgradeId?: string;
}

/** The Partner Center calls a scan makes. */
export const CALL_KINDS = ['customers', 'usageRecords', 'subscriptions', 'agreements', 'eligibility'] as const;
export type CallKind = (typeof CALL_KINDS)[number];

/** What the scan learned of one customer: the input of `classify`. */
export interface CustomerFacts {
  customerId: string;
  companyName?: string;
  domain?: string;
  /** As listed ("reseller", "advisor", ...; lower case); absent when the listing did not say. */
  relationship?: string;
  usage: UsageTriage;
  /** The customer's Azure subscriptions; absent when they were not read (no Azure, advisor, or the call failed). */
  subscriptions?: { legacy: LegacySubscription[]; azurePlans: AzurePlanSubscription[] };
  agreement: AgreementFact;
  eligibility?: EligibilityFact;
  /** A call that failed for good (after the client's retries): the facts are incomplete. */
  failure?: { call: CallKind; category: string; error: string; code?: number };
}

/** Why a customer with legacy Azure cannot move now. */
export const NOT_ELIGIBLE_REASONS = [
  'suspended-subscriptions',
  'no-customer-agreement',
  'bought-recently',
  'partner-shared-services',
  'no-azure-subscriptions',
  'no-relationship',
  'other',
] as const;
export type NotEligibleReason = (typeof NOT_ELIGIBLE_REASONS)[number];

export const FLEET_STATES = [
  'on-azure-plan',
  'eligible',
  'not-eligible',
  'upgrade-in-progress',
  'advisor',
  'no-azure',
  'check-failed',
] as const;
export type FleetState = (typeof FLEET_STATES)[number];

/** What the facts mean, and what an operator can do about it (plain words, naming the subscriptions concerned). */
export type Classification =
  | { state: 'on-azure-plan'; nextStep: string }
  | { state: 'eligible'; nextStep: string }
  | { state: 'not-eligible'; reason: NotEligibleReason; code?: number; nextStep: string }
  | { state: 'upgrade-in-progress'; upgradeId: string; nextStep: string }
  | { state: 'advisor'; nextStep: string }
  | { state: 'no-azure'; nextStep: string }
  | { state: 'check-failed'; nextStep: string };

/** One row per customer: the facts, what they mean, and the scan that wrote them. */
export interface FleetCustomerRecord {
  customerId: string;
  companyName?: string;
  domain?: string;
  relationship?: string;
  usage: UsageTriage;
  /** False when the subscriptions were not read (then the lists are empty because nothing was asked). */
  subscriptionsRead: boolean;
  legacySubscriptions: LegacySubscription[];
  /** How many legacy subscriptions there are (the list may be cut to fit the row). */
  legacyCount: number;
  azurePlans: AzurePlanSubscription[];
  /** The resellers of record of the legacy subscriptions (MPN ids, sorted, distinct). */
  resellers: string[];
  agreement: AgreementFact;
  eligibility?: EligibilityFact;
  state: FleetState;
  /** For `not-eligible`: why. */
  reason?: NotEligibleReason;
  /** For `not-eligible`: Partner Center's code, when it sent one. */
  code?: number;
  /** For `upgrade-in-progress` (and whenever Partner Center named one): the upgrade, handed to the tracking. */
  upgradeId?: string;
  nextStep: string;
  /** For `check-failed`: the call and its error. */
  failure?: CustomerFacts['failure'];
  scanId: string;
  /** The page of the scan the customer was listed on (a resumed page skips the customers already written). */
  scanPage: number;
  /** ISO time. */
  scannedAt: string;
}

export type ScanState = 'requested' | 'running' | 'completed' | 'failed';
export type ScanTrigger = 'schedule' | 'on-demand';

export interface ScanCounts {
  /** Customer rows written. */
  checked: number;
  /** Customers listed on the pages finished (duplicates and unreadable items included). */
  listed: number;
  /** Listed items without a usable customer id (counted, never invented). */
  unreadable: number;
  pages: number;
  byState: Partial<Record<FleetState, number>>;
  byReason: Partial<Record<NotEligibleReason, number>>;
  /** Partner Center calls per kind (attempts, 429s included), as of the last write. */
  calls: Record<CallKind, number>;
  throttled: number;
  /** Existing upgrades handed to the tracking. */
  upgradesAccepted: number;
}

export interface FleetScanRecord {
  scanId: string;
  state: ScanState;
  trigger: ScanTrigger;
  /** ISO times. */
  requestedAt: string;
  startedAt?: string;
  finishedAt?: string;
  updatedAt: string;
  /** The page being worked on; absent: the first page. */
  cursor?: PageCursor;
  /** Index of the page being worked on (0 = the first). */
  page: number;
  /** Customers of that page already written. */
  doneInPage: number;
  counts: ScanCounts;
  /** Timer runs that worked on the scan. */
  runs: number;
  /** Customers the last completed scan checked: what this one is likely to meet. */
  estimatedCustomers?: number;
  lastError?: string;
  /** The last error's category (`describeError`) and Partner Center's code: what the API shows of it. */
  lastErrorCategory?: string;
  lastErrorCode?: number;
  lastErrorAt?: string;
  lease?: Lease;
}

/** A failure as a scan keeps it: the text for operators, the category and code for everyone. */
export interface ScanError {
  text: string;
  category: string;
  code?: number;
}

/**
 * The one scan slot: the current (or last) scan, and where the schedule counts from before the first scan. One row,
 * so "one scan at a time" is a conditional write on it.
 */
export interface ScanSlot {
  scan?: FleetScanRecord;
  /** Epoch ms: the first timer run that looked at the schedule (a fresh deployment waits for an occurrence). */
  scheduleFrom: number;
}

export function emptyCounts(): ScanCounts {
  return {
    checked: 0,
    listed: 0,
    unreadable: 0,
    pages: 0,
    byState: {},
    byReason: {},
    calls: { customers: 0, usageRecords: 0, subscriptions: 0, agreements: 0, eligibility: 0 },
    throttled: 0,
    upgradesAccepted: 0,
  };
}

export function isFinished(scan: Pick<FleetScanRecord, 'state'> | undefined): boolean {
  return scan === undefined || scan.state === 'completed' || scan.state === 'failed';
}
