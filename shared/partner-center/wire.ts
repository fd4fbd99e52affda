import { isGuid } from '../ids';
import { bool, isObject, parseJson, prop, str } from './json';
import type {
  Eligibility,
  NormalizedUpgradeStatus,
  PartnerCenterErrorDetails,
  ProductUpgradeRequest,
  UpgradeLineItem,
  UpgradeStatusResult,
} from './types';

/** Paths of the three operations (docs spell them `productUpgrades` and `productupgrades`; we send the former). */
export const PATHS = {
  eligibility: '/v1/productUpgrades/eligibility',
  create: '/v1/productUpgrades',
  status: (upgradeId: string) => `/v1/productUpgrades/${encodeURIComponent(upgradeId)}/status`,
} as const;

/** The request body: camelCase, exactly the two documented fields. */
export function requestBody(request: ProductUpgradeRequest): string {
  return JSON.stringify({ customerId: request.customerId, productFamily: request.productFamily });
}

/** Thrown for a 2xx whose body is not the JSON object the operation returns. */
export class UnreadableBodyError extends Error {
  override readonly name = 'UnreadableBodyError';
}

function object(text: string | undefined, what: string): Record<string, unknown> {
  const parsed = parseJson(text);
  if (!isObject(parsed)) throw new UnreadableBodyError(`${what}: the response body is not a JSON object`);
  return parsed;
}

/** True when a 200 body is not a JSON object (the client retries those reads). */
export function isUnreadableJson(text: string | undefined): boolean {
  return !isObject(parseJson(text));
}

export function readEligibility(text: string | undefined, request: ProductUpgradeRequest): Eligibility {
  const body = object(text, 'eligibility');
  const isEligible = bool(prop(body, 'isEligible'));
  if (isEligible === undefined) throw new UnreadableBodyError('eligibility: isEligible is missing');
  const result: Eligibility = {
    customerId: str(prop(body, 'customerId')) ?? request.customerId,
    productFamily: str(prop(body, 'productFamily')) ?? request.productFamily,
    isEligible,
  };
  const reason = str(prop(body, 'reason'));
  if (reason) result.reason = reason;
  const upgradeId = upgradeIdOf(body, 'upgradeId', 'eligibility');
  if (upgradeId) result.upgradeId = upgradeId;
  return result;
}

/**
 * An upgrade id Partner Center sent in a body (absent: `null`, `''` or no property). It becomes a table key, a
 * `Location` and a path segment, so anything but a GUID makes the whole answer unreadable (a transient failure, retried
 * like a cut body), never an id. Lower case: one upgrade has one key whatever the service's casing.
 */
function upgradeIdOf(body: Record<string, unknown>, name: string, what: string): string | undefined {
  const value = prop(body, name);
  if (value === undefined || value === null || value === '') return undefined;
  if (!isGuid(value)) throw new UnreadableBodyError(`${what}: ${name} is not a GUID`);
  return value.toLowerCase();
}

const STATUS_BY_KEY: Readonly<Record<string, NormalizedUpgradeStatus>> = {
  pending: 'Pending',
  inprogress: 'InProgress',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
  canceled: 'Cancelled',
};

/** Case- and separator-insensitive ("in_progress", "In Progress"); anything else is Unknown (kept raw by callers). */
export function normalizeStatus(raw: string): NormalizedUpgradeStatus {
  return STATUS_BY_KEY[raw.toLowerCase().replace(/[^a-z]/g, '')] ?? 'Unknown';
}

export function isTerminalStatus(status: NormalizedUpgradeStatus): boolean {
  return status === 'Completed' || status === 'Failed' || status === 'Cancelled';
}

function errorDetails(value: unknown): PartnerCenterErrorDetails | undefined {
  if (!isObject(value)) return undefined;
  const details: PartnerCenterErrorDetails = {};
  const code = str(prop(value, 'code'));
  const description = str(prop(value, 'description')) ?? str(prop(value, 'message'));
  if (code !== undefined) details.code = code;
  if (description !== undefined) details.description = description;
  return code === undefined && description === undefined ? undefined : details;
}

function product(value: unknown): { id: string; name: string } {
  return { id: str(prop(value, 'id')) ?? '', name: str(prop(value, 'name')) ?? '' };
}

function lineItem(value: unknown): UpgradeLineItem {
  const item: UpgradeLineItem = {
    sourceProduct: product(prop(value, 'sourceProduct')),
    targetProduct: product(prop(value, 'targetProduct')),
    status: str(prop(value, 'status')) ?? '',
  };
  const upgradedDate = str(prop(value, 'upgradedDate'));
  if (upgradedDate) item.upgradedDate = upgradedDate;
  const details = errorDetails(prop(value, 'errorDetails'));
  if (details) item.errorDetails = details;
  return item;
}

export function readStatus(
  text: string | undefined,
  request: { upgradeId: string; productFamily: string },
): UpgradeStatusResult {
  const body = object(text, 'status');
  const rawStatus = str(prop(body, 'status'));
  if (rawStatus === undefined) throw new UnreadableBodyError('status: the status field is missing');
  const status = normalizeStatus(rawStatus);
  const items = prop(body, 'lineItems');
  const result: UpgradeStatusResult = {
    upgradeId: upgradeIdOf(body, 'id', 'status') ?? request.upgradeId,
    productFamily: str(prop(body, 'productFamily')) ?? request.productFamily,
    rawStatus,
    status,
    isTerminal: isTerminalStatus(status),
    lineItems: Array.isArray(items) ? items.filter(isObject).map(lineItem) : [],
  };
  const details = errorDetails(prop(body, 'errorDetails'));
  if (details) result.errorDetails = details;
  return result;
}
