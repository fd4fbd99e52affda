import type { UpgradeTruth } from '../simulator';

/**
 * The check `npm run demo` and the end-to-end test share: what the app tracks (as its read API answers
 * `GET /api/upgrades/{id}`) against the simulator's ground truth. Every difference is one readable line.
 */

/** The read API's `UpgradeDetail` (docs/openapi.yaml), as far as the check reads it. */
export interface TrackedUpgrade {
  upgradeId: string;
  customerId: string;
  status: string;
  partnerCenterStatus?: string;
  isFinal: boolean;
  completedAt?: string;
  lineItems?: TrackedLineItem[];
  history: { status: string; observedAt: string }[];
}

export interface TrackedLineItem {
  sourceProduct: { id: string; name: string };
  targetProduct: { id: string; name: string };
  status: string;
  upgradedDate?: string;
  errorDetails?: { code?: string; description?: string };
}

const FINAL = new Set(['Completed', 'Failed']);
/** Forward order of the statuses Partner Center sends (the simulator sends these four). */
const RANK: Record<string, number> = { Pending: 0, InProgress: 1, Completed: 2, Failed: 2 };

function errorText(details: { code?: string; description?: string; message?: string } | undefined): string {
  if (!details) return '';
  return `${details.code ?? ''}|${details.description ?? details.message ?? ''}`;
}

function lineItemDifferences(truth: UpgradeTruth, tracked: TrackedLineItem[]): string[] {
  if (tracked.length !== truth.lineItems.length) {
    return [`line items: ${tracked.length} tracked, ${truth.lineItems.length} true`];
  }
  const key = (item: { sourceProduct: { id: string } }): string => item.sourceProduct.id;
  const byId = new Map(tracked.map((item) => [key(item), item]));
  const out: string[] = [];
  for (const expected of truth.lineItems) {
    const actual = byId.get(key(expected));
    const where = `line item ${key(expected)}`;
    if (!actual) {
      out.push(`${where}: missing`);
      continue;
    }
    if (actual.status !== expected.status) out.push(`${where}: status ${actual.status}, true ${expected.status}`);
    if (actual.targetProduct.id !== expected.targetProduct.id) out.push(`${where}: another target product`);
    if ((actual.upgradedDate ?? '') !== (expected.upgradedDate ?? '')) {
      out.push(`${where}: upgradedDate ${actual.upgradedDate ?? 'none'}, true ${expected.upgradedDate ?? 'none'}`);
    }
    if (errorText(actual.errorDetails) !== errorText(expected.errorDetails)) {
      out.push(`${where}: errorDetails ${errorText(actual.errorDetails)}, true ${errorText(expected.errorDetails)}`);
    }
  }
  return out;
}

/**
 * History is complete and forward: one row per observed change, oldest first; the status never goes back and
 * nothing follows a final status. The same status may repeat (a change of line items while InProgress).
 */
function historyDifferences(truth: UpgradeTruth, history: TrackedUpgrade['history']): string[] {
  if (history.length === 0) return ['history is empty'];
  const out: string[] = [];
  for (let i = 1; i < history.length; i++) {
    const before = history[i - 1].status;
    const after = history[i].status;
    const regressed = (RANK[after] ?? -1) < (RANK[before] ?? Number.POSITIVE_INFINITY);
    if (regressed || FINAL.has(before) || (RANK[after] === RANK[before] && after !== before)) {
      out.push(`history goes ${before} → ${after} (not forward)`);
    }
    if (history[i].observedAt < history[i - 1].observedAt) out.push('history is not in time order');
  }
  const last = history[history.length - 1].status;
  if (last !== truth.status) out.push(`history ends at ${last}, true status ${truth.status}`);
  return out;
}

/** Differences between one tracked upgrade and its truth (empty: they agree exactly). */
export function upgradeDifferences(truth: UpgradeTruth, tracked: TrackedUpgrade | undefined): string[] {
  if (!tracked) return ['not tracked (lost)'];
  const out: string[] = [];
  if (tracked.customerId !== truth.customerId) out.push(`customer ${tracked.customerId}, true ${truth.customerId}`);
  if (tracked.status !== truth.status) out.push(`status ${tracked.status}, true ${truth.status}`);
  if ((tracked.partnerCenterStatus ?? '') !== truth.status) {
    out.push(`Partner Center status ${tracked.partnerCenterStatus ?? 'none'}, true ${truth.status}`);
  }
  if (tracked.isFinal !== FINAL.has(truth.status)) out.push(`isFinal ${tracked.isFinal}`);
  if (FINAL.has(truth.status) && !tracked.completedAt) out.push('final without completedAt');
  out.push(...lineItemDifferences(truth, tracked.lineItems ?? []));
  out.push(...historyDifferences(truth, tracked.history));
  return out;
}

export interface GroundTruthReport {
  checked: number;
  /** Upgrade id → its differences, only for upgrades that differ. */
  differing: Map<string, string[]>;
  /** Tracked upgrade ids the simulator does not know (invented or duplicated). */
  unknown: string[];
}

/** Every true upgrade against what is tracked, and every tracked id against the truth. */
export function compareWithGroundTruth(
  truths: readonly UpgradeTruth[],
  tracked: ReadonlyMap<string, TrackedUpgrade>,
): GroundTruthReport {
  const differing = new Map<string, string[]>();
  for (const truth of truths) {
    const differences = upgradeDifferences(truth, tracked.get(truth.id));
    if (differences.length > 0) differing.set(truth.id, differences);
  }
  const trueIds = new Set(truths.map((t) => t.id));
  const unknown = [...tracked.keys()].filter((id) => !trueIds.has(id));
  return { checked: truths.length, differing, unknown };
}
