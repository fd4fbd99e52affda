import { isFinal, type CustomerUpgradeSummary, type UpgradeRecord, type UpgradeView } from '../tracking';

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
    lineItems: full.lineItems,
    createdAt: record.createdAt,
    lastCheckedAt: full.lastPolledAt,
    nextPollAt: final ? undefined : full.nextPollAt,
    completedAt: record.completedAt,
  });
}

/** `UpgradeDetail`: the representation plus attempts, last error and the observed history (oldest first). */
export function upgradeDetail(view: UpgradeView): Record<string, unknown> {
  return {
    ...upgradeRepresentation(view),
    attempts: view.attempts,
    ...(view.lastError
      ? {
          lastError: dropUndefined({
            message: view.lastError,
            code: view.lastErrorCategory,
            at: view.lastErrorAt ?? view.updatedAt,
          }),
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

/** The object without its undefined properties (JSON bodies and telemetry properties omit absent values). */
export function dropUndefined<T>(value: Record<string, T | undefined>): Record<string, T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Record<string, T>;
}
