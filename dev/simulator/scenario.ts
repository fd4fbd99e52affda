import { readFileSync } from 'node:fs';
import { isGuid } from '../../shared/ids';
import { isJsonObject } from '../../shared/json';

/** Why a customer cannot be upgraded; each maps to one documented 403 code (see errors.ts). */
export type IneligibilityReason =
  | 'suspendedSubscriptions' // 900105
  | 'noAzureSubscriptions' // 900108
  | 'azurePartnerSharedServices' // 900119
  | 'boughtRecently' // 900130
  | 'noCustomerAgreement'; // 900120: no attested Microsoft Customer Agreement (a prerequisite of an Azure plan)

/** The partner's relationship to the customer: only a reseller relationship can transact. */
export type Relationship = 'reseller' | 'advisor';

/** An upgrade made before the scenario starts: still running, or completed (the customer is on an Azure plan). */
export type ExistingUpgrade = 'running' | 'completed';

/** How an upgrade ends. `PartiallyFailed`: top-level Failed, some line items Completed and the rest Failed. */
export type UpgradeOutcome = 'Completed' | 'Failed' | 'PartiallyFailed';

export interface ErrorDetailsSpec {
  code?: string;
  description?: string;
  message?: string;
}

/** Simulated seconds an upgrade spends in each phase. */
export interface DurationSpec {
  pendingSeconds?: number;
  inProgressSeconds?: number;
}

export interface CustomerSpec {
  /** The customer tenant id (GUID). */
  id: string;
  name?: string;
  /** Omitted: eligible. */
  ineligibleReason?: IneligibilityReason;
  /** Legacy 0145P subscriptions: one line item each. Default 1. */
  legacySubscriptions?: number;
  /** Default Completed. */
  outcome?: UpgradeOutcome;
  /** For PartiallyFailed: how many line items fail (default: half, at least 1, at most all but one). */
  failedLineItems?: number;
  /** For Failed / PartiallyFailed: the errorDetails sent (Partner Center SDKs use `description`, docs `message`). */
  errorDetails?: ErrorDetailsSpec;
  /** Overrides the scenario's default durations. */
  durations?: DurationSpec;
  /** Default reseller. An advisor customer is listed, but nothing can be transacted (403 20002). */
  relationship?: Relationship;
  /** The customer's primary domain; default derived from the name. */
  domain?: string;
  /** MPN ids of the resellers of record (indirect model): legacy subscription i belongs to resellers[i % n]. */
  resellers?: string[];
  /** Subscriptions of other offers (Microsoft 365 and the like) listed beside the Azure ones. Default 0. */
  otherSubscriptions?: number;
  /** An upgrade that exists when the scenario starts. */
  existingUpgrade?: ExistingUpgrade;
}

export type FaultRoute =
  'eligibility' | 'create' | 'status' | 'customers' | 'usageRecords' | 'subscriptions' | 'agreements' | 'token' | '*';
export const FAULT_ROUTES: readonly FaultRoute[] = [
  'eligibility',
  'create',
  'status',
  'customers',
  'usageRecords',
  'subscriptions',
  'agreements',
  'token',
  '*',
];

/** Next-link forms seen from Partner Center: `/v1/customers?…`, `/customers?…`, `customers?…`, `http://host/v1/customers?…`. */
export type NextLinkForm = 'v1' | 'root' | 'relative' | 'absolute';
export const NEXT_LINK_FORMS: readonly NextLinkForm[] = ['v1', 'root', 'relative', 'absolute'];

/** Where the continuation token travels: in `links.next.headers`, there and as a top-level body field, or only there. */
export type ContinuationPlacement = 'header' | 'headerAndBody' | 'bodyOnly';
export const CONTINUATION_PLACEMENTS: readonly ContinuationPlacement[] = ['header', 'headerAndBody', 'bodyOnly'];

/** How the paged lists (customers, usage records) page: each pitfall a switch. */
export interface PagingSpec {
  /** A larger `size` is served at this size (default 500). */
  maxPageSize?: number;
  /** Page size when the request has no `size` (default 100). */
  defaultPageSize?: number;
  /** Form of `links.next.uri` (and `links.self.uri`); default `v1`. */
  nextLink?: NextLinkForm;
  /** Default `header`. */
  continuation?: ContinuationPlacement;
  /** true: the last page still has a next link, and following it answers HTTP 400 with code 2000. Default false. */
  endWithError2000?: boolean;
}

/** Probabilities are per request in [0, 1]; latencies are real milliseconds. */
export interface FaultSpec {
  status500?: number;
  status503?: number;
  status408?: number;
  /** Injected throttling, on top of the rate limits: 429 with the documented body. */
  status429?: number;
  /** Retry-After of injected 429s (default 1). */
  retryAfterSeconds?: number;
  /** Send 429s on this route (injected or from the rate limits) without a Retry-After header. */
  omitRetryAfter?: boolean;
  /** Fixed added latency before the response is written. */
  latencyMs?: number;
  /** Extra uniformly random latency in [0, latencyJitterMs]. */
  latencyJitterMs?: number;
  /** Destroy the socket instead of answering. */
  connectionReset?: number;
  /** `after` (default): the request is processed and the response is lost; `before`: nothing happens. */
  connectionResetPhase?: 'before' | 'after';
  /** Truncate the JSON response body (responses without a body are unaffected). */
  malformedJson?: number;
  /** Treat the caller's access token as expired (401, and the token stays invalid). */
  tokenExpiry?: number;
  /** These settings apply to the next `times` requests they cover, then are lifted (as `null` would). Default: no end. */
  times?: number;
}

/** The fault settings that are probabilities per request. */
export const FAULT_PROBABILITIES = [
  'status500',
  'status503',
  'status408',
  'status429',
  'connectionReset',
  'malformedJson',
  'tokenExpiry',
] as const satisfies readonly (keyof FaultSpec)[];

export interface BucketSpec {
  /** Sustained requests per second (real time: clients wait Retry-After in real seconds). */
  ratePerSecond: number;
  /** Bucket size; default = ratePerSecond (at least 1). */
  burst?: number;
}

/** `null` or omitted: unlimited. */
export interface RateLimitSpec {
  perPartner?: BucketSpec | null;
  perCustomer?: BucketSpec | null;
}

export interface TokenSpec {
  /** Access-token lifetime reported as `expires_in` (real seconds; default 3600). */
  accessTokenLifetimeSeconds?: number;
  /** Refresh tokens die after this many simulated seconds unused (default 90 days). */
  refreshTokenInactivitySeconds?: number;
  /** Device codes approve themselves after this many simulated seconds; null: only the admin API approves. */
  deviceCodeAutoApproveSeconds?: number | null;
  /** Device codes expire after this many simulated seconds (default 900). */
  deviceCodeLifetimeSeconds?: number;
  /** App+User access tokens carry the MFA claim (default true); false: the operations answer 401 900421. */
  mfa?: boolean;
}

export interface PartnerSpec {
  /** The partner tenant (GUID) the token endpoint serves. */
  tenantId?: string;
  /** Also accepted in the token path, e.g. contoso.onmicrosoft.com. */
  domain?: string;
  /** The app registration the simulator accepts. */
  clientId?: string;
}

export interface Scenario {
  name?: string;
  description?: string;
  /** Seed of the fault-injection PRNG (reproducible runs). Default 1. */
  seed?: number;
  /** Clock factor when no clock is given: simulated time runs `speed`× faster. Default 1. */
  speed?: number;
  /** Simulated start time (ISO); default: now. */
  startTime?: string;
  partner?: PartnerSpec;
  tokens?: TokenSpec;
  /** Default durations for every customer. */
  durations?: DurationSpec;
  rateLimits?: RateLimitSpec;
  faults?: Partial<Record<FaultRoute, FaultSpec>>;
  /** Paging of the customer and usage-record lists. */
  paging?: PagingSpec;
  customers: CustomerSpec[];
}

export const DEFAULT_TENANT_ID = '5f1a3c2e-7b9d-4e6f-8a1b-2c3d4e5f6a7b';
export const DEFAULT_CLIENT_ID = '0c9b8a7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d';
export const DEFAULT_DURATIONS: Required<DurationSpec> = { pendingSeconds: 10, inProgressSeconds: 50 };

const REASONS: readonly IneligibilityReason[] = [
  'suspendedSubscriptions',
  'noAzureSubscriptions',
  'azurePartnerSharedServices',
  'boughtRecently',
  'noCustomerAgreement',
];
const RELATIONSHIPS: readonly Relationship[] = ['reseller', 'advisor'];
const EXISTING_UPGRADES: readonly ExistingUpgrade[] = ['running', 'completed'];
const MPN_ID = /^\d{1,12}$/;
const OUTCOMES: readonly UpgradeOutcome[] = ['Completed', 'Failed', 'PartiallyFailed'];

export class ScenarioError extends Error {
  constructor(message: string) {
    super(`invalid scenario: ${message}`);
    this.name = 'ScenarioError';
  }
}

/** Reads and validates a scenario JSON file. */
export function loadScenario(path: string): Scenario {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ScenarioError(`${path}: ${(error as Error).message}`);
  }
  return validateScenario(parsed);
}

function checkNumber(value: unknown, where: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ScenarioError(`${where} must be a number in [${min}, ${max}]`);
  }
}

function checkInteger(value: unknown, where: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  checkNumber(value, where, min, max);
  if (value !== undefined && !Number.isInteger(value)) throw new ScenarioError(`${where} must be an integer`);
}

export function validateFaultSpec(value: unknown, where: string): FaultSpec {
  if (!isJsonObject(value)) throw new ScenarioError(`${where} must be an object`);
  for (const key of FAULT_PROBABILITIES) checkNumber(value[key], `${where}.${key}`, 0, 1);
  checkNumber(value.latencyMs, `${where}.latencyMs`, 0, 600_000);
  checkNumber(value.latencyJitterMs, `${where}.latencyJitterMs`, 0, 600_000);
  checkNumber(value.retryAfterSeconds, `${where}.retryAfterSeconds`, 0, 86_400);
  checkInteger(value.times, `${where}.times`, 1);
  if (value.omitRetryAfter !== undefined && typeof value.omitRetryAfter !== 'boolean') {
    throw new ScenarioError(`${where}.omitRetryAfter must be true or false`);
  }
  const phase = value.connectionResetPhase;
  if (phase !== undefined && phase !== 'before' && phase !== 'after') {
    throw new ScenarioError(`${where}.connectionResetPhase must be "before" or "after"`);
  }
  const known = new Set<string>([
    ...FAULT_PROBABILITIES,
    'retryAfterSeconds',
    'omitRetryAfter',
    'latencyMs',
    'latencyJitterMs',
    'connectionResetPhase',
    'times',
  ]);
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw new ScenarioError(`${where}.${key} is not a fault setting`);
  }
  return value;
}

function validateBucket(value: unknown, where: string): BucketSpec | null | undefined {
  if (value === undefined || value === null) return value;
  if (!isJsonObject(value)) throw new ScenarioError(`${where} must be an object or null`);
  checkNumber(value.ratePerSecond, `${where}.ratePerSecond`, 0.001);
  if (value.ratePerSecond === undefined) throw new ScenarioError(`${where}.ratePerSecond is required`);
  checkNumber(value.burst, `${where}.burst`, 1);
  return value as unknown as BucketSpec;
}

export function validateRateLimits(value: unknown, where = 'rateLimits'): RateLimitSpec {
  if (!isJsonObject(value)) throw new ScenarioError(`${where} must be an object`);
  validateBucket(value.perPartner, `${where}.perPartner`);
  validateBucket(value.perCustomer, `${where}.perCustomer`);
  return value;
}

function validateDurations(value: unknown, where: string): void {
  if (value === undefined) return;
  if (!isJsonObject(value)) throw new ScenarioError(`${where} must be an object`);
  checkNumber(value.pendingSeconds, `${where}.pendingSeconds`, 0);
  checkNumber(value.inProgressSeconds, `${where}.inProgressSeconds`, 0);
}

export function validateCustomer(value: unknown, where: string): CustomerSpec {
  if (!isJsonObject(value)) throw new ScenarioError(`${where} must be an object`);
  if (!isGuid(value.id)) throw new ScenarioError(`${where}.id must be a GUID`);
  if (value.ineligibleReason !== undefined && !REASONS.includes(value.ineligibleReason as IneligibilityReason)) {
    throw new ScenarioError(`${where}.ineligibleReason must be one of ${REASONS.join(', ')}`);
  }
  if (value.outcome !== undefined && !OUTCOMES.includes(value.outcome as UpgradeOutcome)) {
    throw new ScenarioError(`${where}.outcome must be one of ${OUTCOMES.join(', ')}`);
  }
  checkNumber(value.legacySubscriptions, `${where}.legacySubscriptions`, 1, 1000);
  checkNumber(value.failedLineItems, `${where}.failedLineItems`, 1, 1000);
  validateDurations(value.durations, `${where}.durations`);
  if (value.errorDetails !== undefined && !isJsonObject(value.errorDetails)) {
    throw new ScenarioError(`${where}.errorDetails must be an object`);
  }
  if (value.relationship !== undefined && !RELATIONSHIPS.includes(value.relationship as Relationship)) {
    throw new ScenarioError(`${where}.relationship must be one of ${RELATIONSHIPS.join(', ')}`);
  }
  if (value.domain !== undefined && (typeof value.domain !== 'string' || !/^[a-z0-9.-]{1,253}$/i.test(value.domain))) {
    throw new ScenarioError(`${where}.domain must be a domain name`);
  }
  if (value.resellers !== undefined) {
    const resellers = value.resellers;
    if (
      !Array.isArray(resellers) ||
      resellers.length > 20 ||
      !resellers.every((r) => typeof r === 'string' && MPN_ID.test(r))
    ) {
      throw new ScenarioError(`${where}.resellers must be a list of at most 20 MPN ids (strings of digits)`);
    }
  }
  checkNumber(value.otherSubscriptions, `${where}.otherSubscriptions`, 0, 100);
  if (value.existingUpgrade !== undefined) {
    if (!EXISTING_UPGRADES.includes(value.existingUpgrade as ExistingUpgrade)) {
      throw new ScenarioError(`${where}.existingUpgrade must be one of ${EXISTING_UPGRADES.join(', ')}`);
    }
    // An upgrade exists only where one could have been made.
    if (value.ineligibleReason !== undefined || value.relationship === 'advisor') {
      throw new ScenarioError(`${where}.existingUpgrade needs an eligible reseller customer (no ineligibleReason)`);
    }
  }
  return value as unknown as CustomerSpec;
}

export function validatePaging(value: unknown, where = 'paging'): PagingSpec {
  if (!isJsonObject(value)) throw new ScenarioError(`${where} must be an object`);
  checkInteger(value.maxPageSize, `${where}.maxPageSize`, 1, 10_000);
  checkInteger(value.defaultPageSize, `${where}.defaultPageSize`, 1, 10_000);
  if (value.nextLink !== undefined && !NEXT_LINK_FORMS.includes(value.nextLink as NextLinkForm)) {
    throw new ScenarioError(`${where}.nextLink must be one of ${NEXT_LINK_FORMS.join(', ')}`);
  }
  if (
    value.continuation !== undefined &&
    !CONTINUATION_PLACEMENTS.includes(value.continuation as ContinuationPlacement)
  ) {
    throw new ScenarioError(`${where}.continuation must be one of ${CONTINUATION_PLACEMENTS.join(', ')}`);
  }
  if (value.endWithError2000 !== undefined && typeof value.endWithError2000 !== 'boolean') {
    throw new ScenarioError(`${where}.endWithError2000 must be true or false`);
  }
  const known = new Set(['maxPageSize', 'defaultPageSize', 'nextLink', 'continuation', 'endWithError2000']);
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw new ScenarioError(`${where}.${key} is not a paging setting`);
  }
  return value;
}

/** Checks the shape (throws ScenarioError naming the bad field) and returns the scenario typed. */
export function validateScenario(value: unknown): Scenario {
  if (!isJsonObject(value)) throw new ScenarioError('the scenario must be a JSON object');
  if (!Array.isArray(value.customers)) throw new ScenarioError('customers must be an array');
  const seen = new Set<string>();
  value.customers.forEach((customer, index) => {
    const spec = validateCustomer(customer, `customers[${index}]`);
    const key = spec.id.toLowerCase();
    if (seen.has(key)) throw new ScenarioError(`customers[${index}].id ${spec.id} appears twice`);
    seen.add(key);
  });
  checkNumber(value.seed, 'seed', 0, 2 ** 32 - 1);
  checkNumber(value.speed, 'speed', 0.001, 1_000_000);
  if (
    value.startTime !== undefined &&
    (typeof value.startTime !== 'string' || Number.isNaN(Date.parse(value.startTime)))
  ) {
    throw new ScenarioError('startTime must be an ISO date');
  }
  validateDurations(value.durations, 'durations');
  if (value.partner !== undefined) {
    if (!isJsonObject(value.partner)) throw new ScenarioError('partner must be an object');
    if (value.partner.tenantId !== undefined && !isGuid(value.partner.tenantId)) {
      throw new ScenarioError('partner.tenantId must be a GUID');
    }
    if (value.partner.clientId !== undefined && !isGuid(value.partner.clientId)) {
      throw new ScenarioError('partner.clientId must be a GUID');
    }
  }
  if (value.tokens !== undefined) {
    if (!isJsonObject(value.tokens)) throw new ScenarioError('tokens must be an object');
    checkNumber(value.tokens.accessTokenLifetimeSeconds, 'tokens.accessTokenLifetimeSeconds', 1);
    checkNumber(value.tokens.refreshTokenInactivitySeconds, 'tokens.refreshTokenInactivitySeconds', 1);
    checkNumber(value.tokens.deviceCodeLifetimeSeconds, 'tokens.deviceCodeLifetimeSeconds', 1);
    if (value.tokens.mfa !== undefined && typeof value.tokens.mfa !== 'boolean') {
      throw new ScenarioError('tokens.mfa must be true or false');
    }
    if (value.tokens.deviceCodeAutoApproveSeconds !== null) {
      checkNumber(value.tokens.deviceCodeAutoApproveSeconds, 'tokens.deviceCodeAutoApproveSeconds', 0);
    }
  }
  if (value.rateLimits !== undefined) validateRateLimits(value.rateLimits);
  if (value.paging !== undefined) validatePaging(value.paging);
  if (value.faults !== undefined) {
    if (!isJsonObject(value.faults)) throw new ScenarioError('faults must be an object keyed by route');
    for (const [route, spec] of Object.entries(value.faults)) {
      if (!FAULT_ROUTES.includes(route as FaultRoute)) {
        throw new ScenarioError(`faults.${route}: route must be one of ${FAULT_ROUTES.join(', ')}`);
      }
      validateFaultSpec(spec, `faults.${route}`);
    }
  }
  return value as unknown as Scenario;
}
