import type { FleetScanRecord } from '../../shared/fleet';
import type { CountersSnapshot, CustomerSpec, UpgradeTruth } from '../simulator';
import type { FleetWaveResult } from './fleet';
import type { GroundTruthReport, TrackedUpgrade } from './ground-truth';
import type { JourneyResult } from './journey';

/** The demo's summary: plain-text tables a newcomer reads at a glance. */

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const numeric = headers.map((_, column) => rows.every((row) => typeof row[column] === 'number'));
  const line = (row: string[]): string =>
    row
      .map((cell, column) => (numeric[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

const KIND_NAMES: Record<string, string> = {
  suspendedSubscriptions: 'not eligible: suspended subscriptions (900105)',
  noAzureSubscriptions: 'not eligible: no Azure subscriptions (900108)',
  azurePartnerSharedServices: 'not eligible: Azure Partner Shared Services (900119)',
  boughtRecently: 'not eligible: bought recently (900130)',
  Completed: 'eligible, upgrade completes',
  Failed: 'eligible, upgrade fails',
  PartiallyFailed: 'eligible, upgrade partly fails',
};

export function customerKind(customer: CustomerSpec): string {
  const key = customer.ineligibleReason ?? customer.outcome ?? 'Completed';
  return KIND_NAMES[key] ?? key;
}

/** A Failed upgrade with some line items completed: Partner Center's partial failure. */
function describeStatus(upgrade: TrackedUpgrade): string {
  if (upgrade.status !== 'Failed') return upgrade.status;
  const items = upgrade.lineItems ?? [];
  return items.some((item) => item.status === 'Completed') ? 'Failed (partly: some line items completed)' : 'Failed';
}

export function statusTable(journey: JourneyResult): string {
  const counts = new Map<string, number>();
  for (const upgrade of journey.tracked.values()) {
    const key = describeStatus(upgrade);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const rows = [...counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([status, n]) => [status, n]);
  rows.push(['total tracked', journey.tracked.size]);
  return table(['status (as tracked)', 'upgrades'], rows);
}

export function kindTable(
  customers: readonly CustomerSpec[],
  journey: JourneyResult,
  truths: readonly UpgradeTruth[],
  check: GroundTruthReport,
): string {
  const truthByCustomer = new Map(truths.map((t) => [t.customerId, t]));
  const byKind = new Map<
    string,
    { customers: number; eligible: number; upgrades: number; final: number; exact: number }
  >();
  for (const customer of customers) {
    const kind = customerKind(customer);
    const row = byKind.get(kind) ?? { customers: 0, eligible: 0, upgrades: 0, final: 0, exact: 0 };
    row.customers++;
    if (journey.eligibility.get(customer.id)?.isEligible) row.eligible++;
    const upgradeId = journey.started.get(customer.id);
    if (upgradeId) {
      row.upgrades++;
      if (journey.tracked.get(upgradeId)?.isFinal) row.final++;
      const truth = truthByCustomer.get(customer.id);
      if (truth && !check.differing.has(truth.id)) row.exact++;
    }
    byKind.set(kind, row);
  }
  const rows = [...byKind.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, r]) => [kind, r.customers, r.eligible, r.upgrades, r.final, r.exact]);
  return table(['customer kind', 'customers', 'eligible', 'upgrades', 'final', 'match truth'], rows);
}

export function partnerCenterTable(
  counters: CountersSnapshot,
  routes = ['eligibility', 'create', 'status', 'token'],
): string {
  const rows: (string | number)[][] = [];
  for (const route of routes) {
    const entry = counters.requests[route];
    if (!entry) continue;
    const byStatus = Object.entries(entry.byStatus)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([status, n]) => `${status}×${n}`)
      .join(' ');
    rows.push([route, entry.total, counters.throttled.byRoute[route] ?? 0, byStatus]);
  }
  const total = Object.values(counters.requests).reduce((sum, r) => sum + r.total, 0);
  rows.push(['all', total, counters.throttled.total, '']);
  return table(['Partner Center call', 'requests', 'throttled (429)', 'answers'], rows);
}

export function timeTable(journey: JourneyResult, startupMs: number, totalMs: number): string {
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  return table(
    ['phase', 'time'],
    [
      ['start Azurite, simulator, Functions host', s(startupMs)],
      [`eligibility webhook × ${journey.eligibility.size}`, s(journey.durationsMs.eligibility)],
      [`start-upgrade webhook × ${journey.started.size}`, s(journey.durationsMs.start)],
      [
        `poll runs after the last start, until all final (${journey.pollRuns} runs in all)`,
        s(journey.durationsMs.polling),
      ],
      ['total', s(totalMs)],
    ],
  );
}

/** What the fleet scan found, customer by customer: by state, the ones that cannot move by reason. */
export function scanTable(scan: FleetScanRecord): string {
  const rows: (string | number)[][] = Object.entries(scan.counts.byState)
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([state, n]) => {
      const row: (string | number)[] = [state, n ?? 0];
      if (state !== 'not-eligible') return [row];
      const reasons = Object.entries(scan.counts.byReason).sort(([a], [b]) => a.localeCompare(b));
      return [row, ...reasons.map(([reason, count]) => [`  ${reason}`, count ?? 0])];
    });
  rows.push(['total', scan.counts.checked]);
  return table(['fleet state (as scanned)', 'customers'], rows);
}

/** Where the wave's members ended, and whether their upgrades match the ground truth. */
export function waveTable(result: FleetWaveResult): string {
  const p = result.wave.progress;
  const matched = new Set(
    result.wave.members.flatMap((m) => (m.upgradeId && !result.check.differing.has(m.upgradeId) ? [m.upgradeId] : [])),
  );
  const byStatus = new Map<string, { members: number; exact: number }>();
  for (const member of result.wave.members) {
    const row = byStatus.get(member.status) ?? { members: 0, exact: 0 };
    row.members++;
    if (member.upgradeId && matched.has(member.upgradeId)) row.exact++;
    byStatus.set(member.status, row);
  }
  const rows: (string | number)[][] = [...byStatus.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, r]) => [status, r.members, r.exact]);
  for (const [reason, n] of Object.entries(p.skippedByReason)) rows.push([`  skipped: ${reason}`, n, 0]);
  rows.push(['total', p.members, matched.size]);
  return table(['wave member status', 'customers', 'upgrade matches truth'], rows);
}
