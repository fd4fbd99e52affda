import { setTimeout as sleep } from 'node:timers/promises';
import type { FleetScanRecord, FleetStore } from '../../shared/fleet';
import { requestFleetScan } from '../../shared/fleet';
import type { SimulatorState, UpgradeTruth } from '../simulator';
import { compareWithGroundTruth, type GroundTruthReport, type TrackedUpgrade } from './ground-truth';
import { mapLimited } from './journey';

/**
 * The fleet part of the demo, as an operator does it: a scan of the whole customer base (asked for, then done by the
 * timer runs), a dry run of a wave of the eligible customers, the wave created over HTTP, then timer runs until it has
 * ended — and every upgrade the wave handed to the tracking checked against the simulator's ground truth.
 */

export interface FleetWaveOptions {
  /** Base URL of the HTTP functions, e.g. http://localhost:7071/api */
  apiUrl: string;
  fleet: FleetStore;
  sim: SimulatorState;
  /** One timer run (pollUpgrades), resolved when it has finished. */
  runTimer: () => Promise<unknown>;
  /** The wave's pace (customers started per minute). */
  createsPerMinute: number;
  /** Give up after this long (real milliseconds). */
  deadlineMs: number;
  log?: (line: string) => void;
}

/** The parts of the API's `Wave` (docs/openapi.yaml) the demo reads. */
export interface WaveAnswer {
  waveId: string;
  state: string;
  progress: Record<string, number> & { skippedByReason: Record<string, number> };
  members: { customerId: string; status: string; upgradeId?: string; upgradeStatus?: string }[];
}

export interface DryRunAnswer {
  members: { customerId: string }[];
  excluded: { customerId: string; state: string; reason?: string }[];
  notSelected: number;
}

export interface FleetWaveResult {
  scan: FleetScanRecord;
  dryRun: DryRunAnswer;
  wave: WaveAnswer;
  timerRuns: number;
  /** Customers of the wave with more than one upgrade made since the wave was created. */
  createdTwice: string[];
  check: GroundTruthReport;
  durationsMs: { scan: number; wave: number };
}

async function call<T>(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(url, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

function expect2xx<T>(what: string, answer: { status: number; body: T }, status: number): T {
  if (answer.status !== status) throw new Error(`${what}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

export async function runFleetWave(options: FleetWaveOptions): Promise<FleetWaveResult> {
  const log = options.log ?? (() => undefined);
  const deadline = Date.now() + options.deadlineMs;
  let timerRuns = 0;
  const timer = async () => {
    if (Date.now() > deadline) throw new Error('the fleet part of the demo ran out of time');
    await options.runTimer();
    timerRuns++;
  };

  // 1. A scan of the whole customer base: asked for, then done by the timer runs, within the background budget.
  const t0 = Date.now();
  await requestFleetScan(options.fleet);
  let scan: FleetScanRecord | undefined;
  do {
    await timer();
    scan = (await options.fleet.readSlot())?.scan;
  } while (scan?.state !== 'completed' && scan?.state !== 'failed');
  if (scan.state !== 'completed') throw new Error(`the scan failed: ${scan.lastError ?? 'no reason'}`);
  log(`scan: ${scan.counts.checked} customers checked in ${timerRuns} timer run(s)`);

  // 2. Who a wave of the eligible customers would move, and who not (nothing written).
  const waves = `${options.apiUrl}/fleet/waves`;
  const select = { select: { state: 'eligible' }, createsPerMinute: options.createsPerMinute };
  const dryRun = expect2xx('dry run', await call<DryRunAnswer>('POST', waves, { ...select, dryRun: true }), 200);
  log(`dry run: ${dryRun.members.length} would move, ${dryRun.excluded.length} left out`);

  // 3. The wave, then timer runs until it has ended.
  const t1 = Date.now();
  const before = new Map(
    dryRun.members.map((m) => [m.customerId, options.sim.listUpgrades({ customerId: m.customerId })]),
  );
  const created = expect2xx('create', await call<WaveAnswer>('POST', waves, select), 202);
  let wave = created;
  while (wave.state !== 'completed' && wave.state !== 'cancelled') {
    await timer();
    wave = expect2xx('read', await call<WaveAnswer>('GET', `${waves}/${created.waveId}`), 200);
    const p = wave.progress;
    log(
      `wave ${wave.state}: ${p.created} started, ${p.inProgress} in progress, ${p.completed} completed, ` +
        `${p.failed} failed, ${p.skipped} skipped, ${p.notStarted} not started`,
    );
    if (wave.state !== 'completed') await sleep(250);
  }
  const t2 = Date.now();

  // 4. Every upgrade of the wave, as the read API answers it, against the ground truth; one upgrade per customer.
  const ids = wave.members.flatMap((m) => (m.upgradeId ? [m.upgradeId] : []));
  const tracked = new Map<string, TrackedUpgrade>();
  await mapLimited(ids, 8, async (upgradeId) => {
    tracked.set(
      upgradeId,
      expect2xx('upgrade', await call<TrackedUpgrade>('GET', `${options.apiUrl}/upgrades/${upgradeId}`), 200),
    );
  });
  const truths: UpgradeTruth[] = ids.flatMap((id) => {
    const truth = options.sim.getUpgrade(id);
    return truth ? [truth] : [];
  });
  const createdTwice = wave.members
    .filter(
      (m) =>
        options.sim.listUpgrades({ customerId: m.customerId }).length - (before.get(m.customerId)?.length ?? 0) > 1,
    )
    .map((m) => m.customerId);
  return {
    scan,
    dryRun,
    wave,
    timerRuns,
    createdTwice,
    check: compareWithGroundTruth(truths, tracked),
    durationsMs: { scan: t1 - t0, wave: t2 - t1 },
  };
}
