import type { FieldError } from './problem';

import { isGuid } from '../ids';
import { isJsonObject } from '../json';

export { isGuid };

/** The only product family Partner Center upgrades; accepted in any case, sent as "Azure". */
export const AZURE_FAMILY = 'Azure';

export interface CustomerUpgradeRequest {
  /** Lower-case GUID. */
  customerId: string;
  productFamily: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/**
 * `{ customerId, productFamily? }` as both webhooks take it. Unknown fields are ignored (tolerant reader); only own
 * properties are read, so `__proto__` or `constructor` keys in the JSON change nothing.
 */
export function validateCustomerUpgradeRequest(body: unknown): Validated<CustomerUpgradeRequest> {
  if (!isJsonObject(body)) return { ok: false, errors: [{ field: 'body', message: 'must be a JSON object' }] };
  const errors: FieldError[] = [];
  const customerId = Object.hasOwn(body, 'customerId') ? body.customerId : undefined;
  if (customerId === undefined || customerId === null || customerId === '') {
    errors.push({ field: 'customerId', message: 'is required' });
  } else if (!isGuid(customerId)) {
    errors.push({ field: 'customerId', message: 'must be a GUID (the customer tenant id)' });
  }
  const family = Object.hasOwn(body, 'productFamily') ? body.productFamily : undefined;
  if (family !== undefined && (typeof family !== 'string' || family.toLowerCase() !== 'azure')) {
    errors.push({ field: 'productFamily', message: 'must be "Azure" when given' });
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { customerId: (customerId as string).toLowerCase(), productFamily: AZURE_FAMILY } };
}
