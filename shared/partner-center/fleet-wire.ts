import { GUID_PATTERN } from '../ids';
import { bool, isObject, parseJson, prop, str } from './json';
import type { Continuation } from './links';
import {
  AZURE_PLAN_PRODUCT_ID,
  CUSTOMER_AGREEMENT_TYPE,
  LEGACY_AZURE_OFFER_ID,
  type Customer,
  type CustomerAgreement,
  type CustomerSubscription,
  type CustomerUsageRecord,
  type SubscriptionStatus,
} from './types';
import { UnreadableBodyError } from './wire';

/** Paths of the fleet operations (all GET). */
export const FLEET_PATHS = {
  customers: '/v1/customers',
  usageRecords: '/v1/customers/usagerecords',
  subscriptions: (customerId: string) => `/v1/customers/${encodeURIComponent(customerId)}/subscriptions`,
  agreements: (customerId: string) => `/v1/customers/${encodeURIComponent(customerId)}/agreements`,
} as const;

/** The page size Microsoft's own bulk tool uses, and the service's documented maximum. */
export const MAX_PAGE_SIZE = 500;

/** HTTP 400 with this error code, on a continuation request, means "all records fetched" (Microsoft's bulk tool). */
export const END_OF_RECORDS_CODE = 2000;

/** One page of a collection `{ totalCount, items, links: { self, next? }, continuationToken?, attributes }`. */
export interface Collection<T> extends Continuation {
  items: T[];
  unreadable: number;
  totalCount?: number;
}

/** A finite number, or a string holding one (amounts come as either). */
function num(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

function optional<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined && value !== '') target[key] = value;
}

/** The keys of `T` whose property can hold a `V`. */
type KeysFor<T, V> = { [K in keyof T]-?: V extends T[K] ? K : never }[keyof T] & string;

/** Copies each named property of `source` that `read` can read (and is not empty) onto `target`, under its name. */
function copyFields<T extends object, V>(
  target: T,
  source: unknown,
  read: (value: unknown) => V | undefined,
  keys: readonly KeysFor<T, V>[],
): void {
  for (const key of keys) optional(target, key, read(prop(source, key)) as T[typeof key] | undefined);
}

/**
 * `links.next.headers`: documented as a list of `{ key, value }`; an object of names to values is accepted too.
 * Anything else is an unreadable page (a continuation we cannot read must not silently end the listing).
 */
function linkHeaders(value: unknown, what: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  const out: Record<string, string> = {};
  const add = (name: unknown, headerValue: unknown): void => {
    if (typeof name !== 'string' || name === '' || str(headerValue) === undefined) {
      throw new UnreadableBodyError(`${what}: links.next.headers holds an entry that is not a header`);
    }
    out[name] = str(headerValue)!;
  };
  if (Array.isArray(value)) {
    for (const entry of value) add(prop(entry, 'key') ?? prop(entry, 'name'), prop(entry, 'value'));
  } else if (isObject(value)) {
    for (const [name, headerValue] of Object.entries(value)) add(name, headerValue);
  } else {
    throw new UnreadableBodyError(`${what}: links.next.headers is neither a list nor an object`);
  }
  return out;
}

/**
 * Reads a collection page tolerantly: unknown fields ignored, property names in any case; `items` must be a list
 * (a page without one is unreadable, never an empty page). Items `readItem` cannot read are counted.
 */
export function readCollection<T>(
  text: string | undefined,
  what: string,
  readItem: (value: unknown) => T | undefined,
): Collection<T> {
  const body = parseJson(text);
  if (!isObject(body)) throw new UnreadableBodyError(`${what}: the response body is not a JSON object`);
  const rawItems = prop(body, 'items');
  if (!Array.isArray(rawItems)) throw new UnreadableBodyError(`${what}: the collection has no items list`);
  const items: T[] = [];
  let unreadable = 0;
  for (const raw of rawItems) {
    const item = readItem(raw);
    if (item === undefined) unreadable++;
    else items.push(item);
  }
  const collection: Collection<T> = { items, unreadable };
  optional(collection, 'totalCount', num(prop(body, 'totalCount')));
  const next = prop(prop(body, 'links'), 'next');
  if (next !== undefined && next !== null) {
    const uri = str(prop(next, 'uri'));
    if (!uri?.trim()) throw new UnreadableBodyError(`${what}: links.next has no uri`);
    collection.nextLink = { uri, headers: linkHeaders(prop(next, 'headers'), what) };
  }
  const token = prop(body, 'continuationToken');
  if (typeof token === 'string' && token.trim() !== '') collection.continuationToken = token;
  return collection;
}

function guid(value: unknown): string | undefined {
  const text = str(value)?.trim();
  return text && GUID_PATTERN.test(text) ? text.toLowerCase() : undefined;
}

export function readCustomer(value: unknown): Customer | undefined {
  if (!isObject(value)) return undefined;
  const profile = prop(value, 'companyProfile');
  const id = guid(prop(value, 'id')) ?? guid(prop(profile, 'tenantId'));
  if (!id) return undefined;
  const customer: Customer = { id };
  optional(customer, 'tenantId', guid(prop(profile, 'tenantId')));
  copyFields(customer, profile, str, ['domain', 'companyName']);
  copyFields(customer, value, str, ['relationshipToPartner']);
  return customer;
}

const SUBSCRIPTION_STATUSES = new Set<SubscriptionStatus>(['none', 'active', 'pending', 'suspended', 'deleted']);

export function normalizeSubscriptionStatus(raw: string): SubscriptionStatus {
  const key = raw.trim().toLowerCase() as SubscriptionStatus;
  return SUBSCRIPTION_STATUSES.has(key) ? key : 'unknown';
}

export function readSubscription(value: unknown): CustomerSubscription | undefined {
  if (!isObject(value)) return undefined;
  const id = str(prop(value, 'id'))?.trim();
  if (!id) return undefined;
  const rawStatus = str(prop(value, 'status')) ?? '';
  const subscription: CustomerSubscription = {
    id: id.toLowerCase(),
    offerId: str(prop(value, 'offerId')) ?? '',
    status: normalizeSubscriptionStatus(rawStatus),
    rawStatus,
  };
  copyFields(subscription, value, str, [
    'entitlementId',
    'friendlyName',
    'billingType',
    'partnerId',
    'creationDate',
    'effectiveStartDate',
    'commitmentEndDate',
  ]);
  copyFields(subscription, value, num, ['quantity']);
  return subscription;
}

/** A legacy Microsoft Azure (MS-AZR-0145P) subscription; the offer id compared without regard to case. */
export function isLegacyAzureSubscription(subscription: Pick<CustomerSubscription, 'offerId'>): boolean {
  return subscription.offerId.trim().toUpperCase() === LEGACY_AZURE_OFFER_ID;
}

/** An Azure plan subscription (offer id `DZH318Z0BPS6`, or `DZH318Z0BPS6:…`). */
export function isAzurePlanSubscription(subscription: Pick<CustomerSubscription, 'offerId'>): boolean {
  const offer = subscription.offerId.trim().toUpperCase();
  return offer === AZURE_PLAN_PRODUCT_ID || offer.startsWith(`${AZURE_PLAN_PRODUCT_ID}:`);
}

export function readUsageRecord(value: unknown): CustomerUsageRecord | undefined {
  if (!isObject(value)) return undefined;
  const customerId = guid(prop(value, 'id')) ?? guid(prop(value, 'resourceId'));
  if (!customerId) return undefined;
  const record: CustomerUsageRecord = { customerId };
  optional(record, 'companyName', str(prop(value, 'name')) ?? str(prop(value, 'resourceName')));
  optional(record, 'isUpgraded', bool(prop(value, 'isUpgraded')));
  optional(record, 'budgetAmount', num(prop(prop(value, 'budget'), 'amount')));
  copyFields(record, value, num, ['percentUsed', 'totalCost', 'usdTotalCost']);
  copyFields(record, value, str, ['currencyCode', 'currencyLocale', 'lastModifiedDate']);
  return record;
}

/** An agreement item; undefined when it has no type (it proves nothing about which agreement was attested). */
export function readAgreement(value: unknown): CustomerAgreement | undefined {
  if (!isObject(value)) return undefined;
  const type = str(prop(value, 'type'))?.trim();
  if (!type) return undefined;
  const agreement: CustomerAgreement = { type };
  copyFields(agreement, value, str, ['templateId', 'dateAgreed', 'agreementLink']);
  const contact = prop(value, 'primaryContact');
  if (isObject(contact)) {
    const primaryContact: NonNullable<CustomerAgreement['primaryContact']> = {};
    copyFields(primaryContact, contact, str, ['firstName', 'lastName', 'email', 'phoneNumber']);
    agreement.primaryContact = primaryContact;
  }
  return agreement;
}

export function isCustomerAgreement(agreement: Pick<CustomerAgreement, 'type'>): boolean {
  return agreement.type.toLowerCase() === CUSTOMER_AGREEMENT_TYPE.toLowerCase();
}
