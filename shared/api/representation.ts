import { dropUndefined } from '../json';
import { PARTNER_CENTER_ERROR_CATEGORIES } from '../partner-center/errors';
import type { UpgradeLineItem } from '../partner-center/types';
import { isFinal, type CustomerUpgradeSummary, type UpgradeRecord, type UpgradeView } from '../tracking';

/*
 * What the read API shows of an upgrade: an allow-list, field by field. Nothing here is copied from a row as a whole,
 * so a column added later (an error text that may name a vault, a setting or Entra ID's words, a correlation id, a
 * lease) stays out of every answer until it is named here and in docs/openapi.yaml.
 */

/** The API's view of an upgrade (docs/openapi.yaml `Upgrade`): no internal bookkeeping (leases, schedule keys). */
export function upgradeRepresentation(record: UpgradeRecord | CustomerUpgradeSummary): Record<string, unknown> {
  const full = record as Partial<UpgradeRecord>;
  const final = isFinal(record.status);
  return dropUndefined({
    upgradeId: record.upgradeId,
    customerId: record.customerId,
    productFamily: record.productFamily,
    status: record.status,
    partnerCenterStatus: record.rawStatus || undefined,
    isFinal: final,
    lineItems: full.lineItems?.map(lineItemRepresentation),
    createdAt: record.createdAt,
    lastCheckedAt: full.lastPolledAt,
    nextPollAt: final ? undefined : full.nextPollAt,
    completedAt: record.completedAt,
  });
}

/** `LineItem`: what Partner Center said about one subscription's move, its documented fields only. */
function lineItemRepresentation(item: UpgradeLineItem): Record<string, unknown> {
  const product = (p: { id: string; name: string }) => ({ id: p.id, name: p.name });
  return dropUndefined<unknown>({
    sourceProduct: product(item.sourceProduct),
    targetProduct: product(item.targetProduct),
    status: item.status,
    upgradedDate: item.upgradedDate,
    errorDetails: item.errorDetails
      ? dropUndefined({ code: item.errorDetails.code, description: item.errorDetails.description })
      : undefined,
  });
}

/** The categories `lastError.category` documents; anything else a row may hold is shown as `internal`. */
const ERROR_CATEGORIES = new Set<string>([...PARTNER_CENTER_ERROR_CATEGORIES, 'internal']);

/**
 * `lastError` as every answer shows it: the failure's category and Partner Center's code, when it happened — never
 * its text (that stays in the row and in telemetry).
 */
export function lastErrorRepresentation(
  category: string,
  code: number | undefined,
  at: string,
): Record<string, unknown> {
  return dropUndefined<unknown>({ category: shownCategory(category), code, at });
}

/** An error category as answers show it: a documented one, else `internal`. */
export function shownCategory(category: string): string {
  return ERROR_CATEGORIES.has(category) ? category : 'internal';
}

/**
 * `UpgradeDetail`: the representation plus attempts, the last error and the observed history (oldest first). The
 * last error is its category and Partner Center's code only: its text stays in the row and in telemetry.
 */
export function upgradeDetail(view: UpgradeView): Record<string, unknown> {
  return {
    ...upgradeRepresentation(view),
    attempts: view.attempts,
    ...(view.lastErrorCategory
      ? {
          lastError: lastErrorRepresentation(
            view.lastErrorCategory,
            view.lastErrorCode,
            view.lastErrorAt ?? view.updatedAt,
          ),
        }
      : {}),
    history: view.history.map((entry) =>
      dropUndefined({
        status: entry.status,
        partnerCenterStatus: entry.rawStatus || undefined,
        observedAt: entry.observedAt,
      }),
    ),
  };
}
