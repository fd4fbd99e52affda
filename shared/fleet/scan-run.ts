import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { asError } from '../errors';
import type { NcrontabSchedule } from '../config';
import type {
  CallOptions,
  Customer,
  CustomerDirectory,
  Page,
  PageCursor,
  ProductUpgrades,
} from '../partner-center/types';
import type { Telemetry } from '../telemetry/telemetry';
import { acceptUpgrade, type AcceptDeps } from '../tracking/accept';
import { asPartnerCenterError, describeError } from '../tracking/errors';
import type { MonotonicClock, RequestGate } from '../tracking/request-gate';
import { customerRecord, isAdvisor, needsEligibility } from './classify';
import { askEligibility, PRODUCT_FAMILY, readFacts, ScanStopped, type FactSources, type ScanCall } from './facts';
import {
  CALL_KINDS,
  type CallKind,
  type CustomerFacts,
  type FleetCustomerRecord,
  type FleetScanRecord,
  type ScanCounts,
  type ScanError,
  type ScanSlot,
  type ScanState,
  type UsageTriage,
} from './records';
import {
  decideBatch,
  decideClaim,
  decideComplete,
  decideFail,
  decidePageDone,
  decideRelease,
  decideSchedule,
  type Progress,
  type ProgressResult,
  type ScheduleResult,
  type SlotDecision,
} from './scan-state';
import { MAX_LIST_CHARS } from './entities';
import { MAX_BATCH_ROWS, type FleetStore } from './store';
import { callInStep, StepWindow } from './step';

/** Customers per page asked of Partner Center: its documented maximum, what Microsoft's own bulk tool uses. */
export const SCAN_PAGE_SIZE = 500;

/**
 * The usage records of a scan (who has Azure, who is on an Azure plan), kept by the process between the timer runs
 * of one scan: a warm instance resumes without listing them again; a new one lists them again.
 */
export class TriageCache {
  private entry: { scanId: string; usage: Map<string, UsageTriage> } | undefined;

  get(scanId: string): Map<string, UsageTriage> | undefined {
    return this.entry?.scanId === scanId ? this.entry.usage : undefined;
  }

  set(scanId: string, usage: Map<string, UsageTriage>): void {
    this.entry = { scanId, usage };
  }
}

export interface ScanStepOptions {
  store: FleetStore;
  directory: CustomerDirectory;
  upgrades: ProductUpgrades;
  /** Where an upgrade Partner Center names is handed to the tracking (acceptUpgrade, as the webhooks do). */
  accept: AcceptDeps;
  telemetry: Telemetry;
  schedule: NcrontabSchedule;
  /** The run's one gate to Partner Center, shared with the poll run. */
  gate: RequestGate;
  /** The gate's monotonic clock. */
  clock: MonotonicClock;
  /** On `clock`: the run starts no Partner Center call after this. */
  deadline: number;
  /** Wall clock (leases, stored times). */
  now?: () => number;
  /** Customers whose facts are read at once. */
  concurrency: number;
  pageSize?: number;
  runId?: string;
  signal?: AbortSignal;
  triage?: TriageCache;
}

export type ScanStopReason = 'time-budget' | 'aborted' | 'auth' | 'lease-lost' | 'partner-center' | 'error';

export type ScanStepResult =
  | { outcome: 'idle'; schedule: ScheduleResult['outcome'] }
  | { outcome: 'busy' | 'deferred'; scanId: string }
  | {
      outcome: 'worked';
      scanId: string;
      state: ScanState;
      /** Customers written by this run. */
      checked: number;
      /** Partner Center calls by this run. */
      calls: number;
      throttled: number;
      durationMs: number;
      stoppedBy?: ScanStopReason;
      error?: string;
    };

/**
 * The scan step of a timer run: a scheduled scan is requested when due, then the scan not finished (requested, or
 * left by an earlier run) is worked on until the run's deadline. One run at a time holds it (the slot's lease).
 */
export async function runFleetScanStep(options: ScanStepOptions): Promise<ScanStepResult> {
  const now = options.now ?? Date.now;
  const scheduled = await options.store.updateSlot((slot) =>
    decideSchedule(slot, { scanId: randomUUID(), now: now(), schedule: options.schedule }),
  );
  if (scheduled.outcome !== 'requested' && scheduled.outcome !== 'unfinished') {
    return { outcome: 'idle', schedule: scheduled.outcome };
  }
  if (options.clock() >= options.deadline) return { outcome: 'deferred', scanId: scheduled.scan.scanId };
  return new ScanRun(options).execute();
}

function zeroCalls(): Record<CallKind, number> {
  return { customers: 0, usageRecords: 0, subscriptions: 0, agreements: 0, eligibility: 0 };
}

/** The first page of a listing (one request), closing the iterator after it. */
async function firstPage<T>(pages: AsyncIterableIterator<Page<T>>): Promise<Page<T> | undefined> {
  try {
    const next = await pages.next();
    return next.done ? undefined : next.value;
  } finally {
    await pages.return?.();
  }
}

/** A listing error that no retry mends (the stored cursor refused, the list not there): the scan fails. */
function isPermanent(error: unknown): boolean {
  const category = asPartnerCenterError(error)?.category;
  return (
    category === 'invalid-input' || category === 'not-found' || category === 'business-rule' || category === 'conflict'
  );
}

/** Calls made and 429s met since the scan's counts were last written (flushed into the next write). */
class Tally {
  calls = zeroCalls();
  throttled = 0;

  snapshot(): Pick<ScanCounts, 'calls' | 'throttled'> {
    return { calls: { ...this.calls }, throttled: this.throttled };
  }

  /** Takes away what a write has just stored (calls may have been made meanwhile). */
  flushed(written: Pick<ScanCounts, 'calls' | 'throttled'>): void {
    for (const kind of CALL_KINDS) this.calls[kind] -= written.calls[kind];
    this.throttled -= written.throttled;
  }
}

/**
 * One run's work on a scan. Per page of customers (500 asked), facts are read a few customers at a time through the
 * gate (`readFacts`), and a commit lane writes them in batches: it asks eligibility for the batch's customers that
 * need it, writes their rows together with the scan's counts in one transaction, then hands the upgrades Partner
 * Center named to the tracking — and only then asks eligibility for the next batch. So at every side effect no
 * eligibility answer is waiting to be written: a crash after any write loses none, and a resumed page skips the
 * customers written (one query) instead of asking again. The scan moves to the next page only after every customer
 * of the page is written and its upgrade handed over.
 */
class ScanRun {
  private readonly now: () => number;
  private readonly runId: string;
  private readonly started: number;
  private readonly tally = new Tally();
  private readonly runCalls = zeroCalls();
  private runThrottled = 0;
  private checkedThisRun = 0;
  private lastError: ScanError | undefined;
  private scan!: FleetScanRecord;
  private owned = false;
  private readonly sources: FactSources;
  private readonly window: StepWindow<ScanStopReason>;

  constructor(private readonly options: ScanStepOptions) {
    this.now = options.now ?? Date.now;
    this.runId = options.runId ?? randomUUID();
    this.started = options.clock();
    this.sources = { directory: options.directory, upgrades: options.upgrades, call: this.call };
    this.window = new StepWindow<ScanStopReason>({
      clock: options.clock,
      deadline: options.deadline,
      signal: options.signal,
      now: this.now,
      runId: this.runId,
      // The workers' calls and a batch's eligibility calls.
      waiters: MAX_BATCH_ROWS + 2 * Math.max(1, options.concurrency),
    });
  }

  private progress(delta: Partial<ScanCounts>): Progress {
    return { scanId: this.scan.scanId, page: this.scan.page, lease: this.window.lease(), now: this.now(), delta };
  }

  /** A write of the scan slot; false (and the run stops) when the scan is no longer this run's. */
  private async write(
    decide: (slot: ScanSlot | undefined, progress: Progress) => SlotDecision<ProgressResult>,
    delta: Partial<ScanCounts>,
  ): Promise<boolean> {
    const pending = this.tally.snapshot();
    const progress = this.progress({ ...delta, ...pending });
    const result = await this.options.store.updateSlot((slot) => decide(slot, progress));
    if (result.outcome === 'lost') {
      this.window.stop('lease-lost');
      this.owned = false;
      return false;
    }
    this.tally.flushed(pending);
    this.scan = result.scan;
    if (this.scan.state !== 'running') this.owned = false;
    return true;
  }

  /** One Partner Center call through the gate: 429s pause everyone and are tried again until the run stops. */
  private readonly call: ScanCall = <T>(kind: CallKind, send: (options: CallOptions) => Promise<T>) =>
    callInStep(
      this.options.gate,
      {
        correlationId: this.scan.scanId,
        window: this.window,
        halt: (reason, error) => {
          if (reason === 'auth') this.lastError = describeError(error);
          return new ScanStopped(this.window.stop(reason as ScanStopReason));
        },
        onCall: () => {
          this.tally.calls[kind]++;
          this.runCalls[kind]++;
        },
        onThrottled: () => {
          this.tally.throttled++;
          this.runThrottled++;
        },
      },
      send,
    );

  async execute(): Promise<ScanStepResult> {
    const { store, telemetry } = this.options;
    const claim = await store.updateSlot((slot) => decideClaim(slot, this.window.lease(), this.now()));
    if (claim.outcome === 'none') return { outcome: 'idle', schedule: 'not-due' };
    if (claim.outcome === 'busy') return { outcome: 'busy', scanId: claim.scan.scanId };
    this.scan = claim.scan;
    this.owned = true;
    if (claim.firstStart) {
      telemetry.event(
        'FleetScanStarted',
        { scanId: this.scan.scanId, trigger: this.scan.trigger },
        this.scan.estimatedCustomers === undefined ? {} : { estimatedCustomers: this.scan.estimatedCustomers },
      );
    }
    try {
      await this.work();
    } catch (error) {
      if (!(error instanceof ScanStopped)) await this.failedRun(error);
    }
    if (this.owned) {
      // Unfinished: release the lease so the next run resumes at once, and store the counts and the last error.
      await store
        .updateSlot((slot) => decideRelease(slot, this.progress(this.tally.snapshot()), this.lastError))
        .then((result) => {
          if (result.outcome === 'written') this.scan = result.scan;
        })
        .catch((error: unknown) =>
          telemetry.exception(asError(error), { scanId: this.scan.scanId, runId: this.runId }),
        );
    }
    return this.report();
  }

  /** A failure that ends the run: the listing refused for good fails the scan; anything else waits for the next run. */
  private async failedRun(error: unknown): Promise<void> {
    const { store, telemetry } = this.options;
    this.lastError = describeError(error);
    if (this.owned && asPartnerCenterError(error) && isPermanent(error)) {
      const failure = { ...this.lastError, text: `Partner Center refused the listing: ${this.lastError.text}` };
      const result = await store.updateSlot((slot) => decideFail(slot, this.progress(this.tally.snapshot()), failure));
      if (result.outcome === 'written') {
        this.scan = result.scan;
        this.owned = false;
      }
      return;
    }
    this.window.stop(asPartnerCenterError(error) ? 'partner-center' : 'error');
    telemetry.exception(asError(error), { scanId: this.scan.scanId, runId: this.runId });
  }

  private async work(): Promise<void> {
    const usage = await this.triage();
    while (this.owned && !this.window.stopped()) {
      const scan = this.scan;
      const page = await this.call('customers', (options) =>
        firstPage(
          this.options.directory.listCustomers({
            ...options,
            pageSize: this.options.pageSize ?? SCAN_PAGE_SIZE,
            ...(scan.cursor ? { resumeFrom: scan.cursor } : {}),
          }),
        ),
      );
      if (!page) {
        await this.write(decideComplete, {});
        return;
      }
      // A page resumed: the customers this scan wrote on it are skipped (one query), and the upgrades among them
      // handed to the tracking again (a crash may have come between the row and the handover).
      const done = scan.doneInPage > 0 ? await this.options.store.customersOnPage(scan.scanId, scan.page) : [];
      await this.handOver(done);
      if (!(await this.processPage(page, usage, new Set(done.map((row) => row.customerId))))) return;
      const listed = { listed: page.items.length + page.unreadable, unreadable: page.unreadable };
      if (!(await this.write((slot, progress) => decidePageDone(slot, progress, page.next), listed))) return;
    }
  }

  /** Who has Azure and who is on an Azure plan: the usage records, listed to the end (or kept from an earlier run). */
  private async triage(): Promise<Map<string, UsageTriage>> {
    const scanId = this.scan.scanId;
    const cached = this.options.triage?.get(scanId);
    if (cached) return cached;
    const usage = new Map<string, UsageTriage>();
    let cursor: PageCursor | undefined;
    do {
      const from = cursor;
      const page = await this.call('usageRecords', (options) =>
        firstPage(this.options.directory.listUsageRecords({ ...options, ...(from ? { resumeFrom: from } : {}) })),
      );
      if (!page) break;
      for (const record of page.items) usage.set(record.customerId, record.isUpgraded ? 'azure-plan' : 'legacy');
      cursor = page.next;
    } while (cursor);
    this.options.triage?.set(scanId, usage);
    return usage;
  }

  /**
   * The page's customers not written yet: facts read by a few workers, written by the commit lane in batches. True
   * when every customer of the page is written.
   */
  private async processPage(
    page: Page<Customer>,
    usage: ReadonlyMap<string, UsageTriage>,
    done: ReadonlySet<string>,
  ): Promise<boolean> {
    const unique = new Map<string, Customer>();
    for (const customer of page.items) if (!unique.has(customer.id)) unique.set(customer.id, customer);
    const todo = [...unique.values()].filter((customer) => !done.has(customer.id));
    const ready: CustomerFacts[] = [];
    const wake = new EventEmitter();
    let next = 0;
    let active = 0;
    let failure: Error | undefined;
    const worker = async () => {
      active++;
      try {
        while (next < todo.length && !this.window.stopped() && failure === undefined) {
          const customer = todo[next++];
          ready.push(await readFacts(customer, usage.get(customer.id) ?? 'none', this.sources));
          wake.emit('ready');
        }
      } catch (error) {
        if (!(error instanceof ScanStopped)) failure ??= asError(error);
      } finally {
        active--;
        wake.emit('ready');
      }
    };
    const workers = Array.from({ length: Math.max(1, Math.floor(this.options.concurrency)) }, worker);
    let written = 0;
    let lane: Error | undefined;
    try {
      for (;;) {
        // Checked and awaited in the same turn: a worker's signal cannot slip in between.
        while (ready.length === 0 && active > 0) await once(wake, 'ready');
        if (ready.length === 0 || failure !== undefined) break;
        const batch = takeBatch(ready);
        const count = await this.commit(batch);
        if (count === undefined) break;
        written += count;
      }
    } catch (error) {
      lane = asError(error);
      this.window.stop('error');
    } finally {
      await Promise.all(workers);
    }
    if (lane !== undefined) throw lane;
    if (failure !== undefined) throw failure;
    return written === todo.length;
  }

  /**
   * Eligibility for the batch's customers that need it, then their rows in one transaction with the scan's counts,
   * then their upgrades handed to the tracking. Returns how many rows were written; undefined when the run must stop.
   * After the run stops no eligibility is asked: those customers are left for the next run.
   */
  private async commit(batch: CustomerFacts[]): Promise<number | undefined> {
    const asks = batch.filter(
      (facts) =>
        !facts.failure &&
        !facts.eligibility &&
        !isAdvisor(facts.relationship) &&
        facts.subscriptions !== undefined &&
        needsEligibility(facts.subscriptions),
    );
    const complete = batch.filter((facts) => !asks.includes(facts));
    if (asks.length > 0 && !this.window.stopped()) {
      const answers = await Promise.allSettled(asks.map((facts) => askEligibility(facts, this.sources)));
      for (const answer of answers) if (answer.status === 'fulfilled') complete.push(answer.value);
    }
    if (complete.length > 0) {
      const rows = complete.map((facts) =>
        customerRecord(facts, { scanId: this.scan.scanId, page: this.scan.page, scannedAt: iso(this.now()) }),
      );
      if (!(await this.write((slot, progress) => decideBatch(slot, progress, rows), rowCounts(rows)))) return undefined;
      this.checkedThisRun += rows.length;
      await this.handOver(rows);
    }
    return complete.length;
  }

  /** Upgrades Partner Center named, handed to the tracking through the one entry every source uses. */
  private async handOver(rows: readonly FleetCustomerRecord[]): Promise<void> {
    for (const row of rows) {
      if (!row.upgradeId) continue;
      const accepted = await acceptUpgrade(this.options.accept, {
        upgradeId: row.upgradeId,
        customerId: row.customerId,
        productFamily: PRODUCT_FAMILY,
        correlationId: this.scan.scanId,
        source: 'fleet-scan',
      });
      if (accepted.sendError !== undefined) {
        // Recorded; the poll run re-sends its tracking message later.
        this.options.telemetry.exception(asError(accepted.sendError), {
          upgradeId: row.upgradeId,
          scanId: this.scan.scanId,
        });
      }
    }
  }

  private report(): ScanStepResult {
    const { telemetry } = this.options;
    const scan = this.scan;
    const durationMs = Math.round(this.options.clock() - this.started);
    const calls = CALL_KINDS.reduce((sum, kind) => sum + this.runCalls[kind], 0);
    const stoppedBy = scan.state === 'running' || scan.state === 'requested' ? this.window.stopReason : undefined;
    telemetry.event(
      'FleetScanProgress',
      { scanId: scan.scanId, runId: this.runId, state: scan.state, ...(stoppedBy ? { stoppedBy } : {}) },
      {
        checkedThisRun: this.checkedThisRun,
        checked: scan.counts.checked,
        pages: scan.counts.pages,
        callsThisRun: calls,
        throttledThisRun: this.runThrottled,
        durationMs,
        rateCuts: this.options.gate.rateCuts,
        ...(scan.estimatedCustomers === undefined ? {} : { estimatedCustomers: scan.estimatedCustomers }),
      },
    );
    if (scan.state === 'completed' || scan.state === 'failed') {
      const totalCalls = CALL_KINDS.reduce((sum, kind) => sum + scan.counts.calls[kind], 0);
      const measurements: Record<string, number> = {
        checked: scan.counts.checked,
        pages: scan.counts.pages,
        calls: totalCalls,
        throttled: scan.counts.throttled,
        runs: scan.runs,
        upgradesAccepted: scan.counts.upgradesAccepted,
        durationMs: Date.parse(scan.finishedAt ?? scan.updatedAt) - Date.parse(scan.startedAt ?? scan.requestedAt),
      };
      for (const [state, count] of Object.entries(scan.counts.byState)) measurements[`state:${state}`] = count ?? 0;
      for (const [reason, count] of Object.entries(scan.counts.byReason)) measurements[`reason:${reason}`] = count ?? 0;
      if (scan.state === 'completed') {
        telemetry.event('FleetScanCompleted', { scanId: scan.scanId, trigger: scan.trigger }, measurements);
      } else {
        telemetry.event(
          'FleetScanFailed',
          { scanId: scan.scanId, trigger: scan.trigger, error: scan.lastError ?? '' },
          measurements,
        );
      }
    }
    return {
      outcome: 'worked',
      scanId: scan.scanId,
      state: scan.state,
      checked: this.checkedThisRun,
      calls,
      throttled: this.runThrottled,
      durationMs,
      ...(stoppedBy ? { stoppedBy } : {}),
      ...(this.lastError ? { error: this.lastError.text } : {}),
    };
  }
}

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

/** A batch's rows stay well inside a transaction's 4 MiB (each list in a row is cut to MAX_LIST_CHARS). */
const MAX_BATCH_CHARS = 3_000_000;

/** About how large a customer's row will be: its subscriptions dominate. */
function estimatedChars(facts: CustomerFacts): number {
  const subscriptions = facts.subscriptions;
  const listed = subscriptions ? subscriptions.legacy.length + subscriptions.azurePlans.length : 0;
  return 4_000 + Math.min(2 * MAX_LIST_CHARS, 200 * listed);
}

/** The next batch from the ready facts: at most a transaction's rows, and a payload well under its limit. */
function takeBatch(ready: CustomerFacts[]): CustomerFacts[] {
  let count = 0;
  let chars = 0;
  while (count < ready.length && count < MAX_BATCH_ROWS) {
    chars += estimatedChars(ready[count]);
    if (count > 0 && chars > MAX_BATCH_CHARS) break;
    count++;
  }
  return ready.splice(0, count);
}

/** What a batch of rows adds to the scan's counts. */
function rowCounts(rows: readonly FleetCustomerRecord[]): Partial<ScanCounts> {
  const byState: ScanCounts['byState'] = {};
  const byReason: ScanCounts['byReason'] = {};
  for (const row of rows) {
    byState[row.state] = (byState[row.state] ?? 0) + 1;
    if (row.reason) byReason[row.reason] = (byReason[row.reason] ?? 0) + 1;
  }
  return {
    checked: rows.length,
    byState,
    byReason,
    upgradesAccepted: rows.filter((row) => row.upgradeId !== undefined).length,
  };
}
