import { randomUUID } from 'node:crypto';
import { asError } from '../errors';
import type { CallOptions, ProductUpgrades } from '../partner-center/types';
import type { Telemetry } from '../telemetry/telemetry';
import { acceptUpgrade, type AcceptDeps } from '../tracking/accept';
import { describeError } from '../tracking/errors';
import { RequestGate, sleep as platformSleep, type MonotonicClock, type Sleep } from '../tracking/request-gate';
import { PRODUCT_FAMILY } from './facts';
import type { CustomerFacts } from './records';
import { callInStep, StepWindow } from './step';
import { MAX_MEMBERS_PER_WRITE, type FleetStore, type StoredWave } from './store';
import {
  createRequestId,
  decideFailure,
  decideRecheck,
  factsOfRow,
  memberAfter,
  type MemberStep,
  type MemberVerdict,
} from './wave-member';
import {
  countProgress,
  holdsSlot,
  isActive,
  isInFlight,
  isOpen,
  type WaveMember,
  type WaveProgress,
  type WaveRecord,
  type WaveState,
} from './wave-records';
import {
  decideMembers,
  decideRelease,
  decideSettle,
  decideWaveClaim,
  type MemberTally,
  type WaveDecision,
} from './wave-state';

/**
 * The wave step of a timer run: every wave not ended is taken (a lease on its record), the upgrades it handed over are
 * followed (their status read from the tracking's upgrade rows), and the wave that is running starts its next members
 * at its pace until the run's deadline. Each member: marked `creating` (only while the wave runs: a pause or a cancel
 * stops it here, before any call), eligibility re-checked, then — only if eligible — created with an MS-RequestId
 * derived from the wave and the customer, and the upgrade handed to the tracking (`acceptUpgrade`, source `wave`,
 * with the wave id). An upgrade eligibility names (or a 409 names) is handed over without a create.
 *
 * Never two creates for a customer, whatever crashes: a member interrupted after its create is re-checked first, and
 * Partner Center then names its upgrade (eligibility's `upgradeId`); should the upgrade already have failed, the
 * create is repeated with the same request id, which Partner Center answers with the same upgrade.
 */

export interface WaveStepOptions {
  store: FleetStore;
  upgrades: ProductUpgrades;
  /** Where the upgrades are handed to the tracking (acceptUpgrade; its store is also where their status is read). */
  accept: AcceptDeps;
  telemetry: Telemetry;
  /** The run's one gate to Partner Center, shared with the poll run and the scan. */
  gate: RequestGate;
  clock: MonotonicClock;
  /** On `clock`: the run starts no Partner Center call after this. */
  deadline: number;
  now?: () => number;
  runId?: string;
  signal?: AbortSignal;
  /** The wait between two starts at the wave's pace (default: the platform's timer). */
  sleep?: Sleep;
}

export type WaveStopReason = 'time-budget' | 'aborted' | 'auth' | 'lease-lost' | 'not-running' | 'error';

export interface WaveRunReport {
  waveId: string;
  /** `busy`: another run holds the wave; `ended`: it ended before this run could take it. */
  outcome: 'worked' | 'busy' | 'ended';
  state?: WaveState;
  /** Creates sent by this run. */
  created: number;
  /** Partner Center calls by this run, and the 429s among them. */
  calls: number;
  throttled: number;
  progress?: WaveProgress;
  stoppedBy?: WaveStopReason;
  error?: string;
}

export type WaveStepResult = { outcome: 'idle' } | { outcome: 'worked'; waves: WaveRunReport[] };

/** Upgrade rows read at once when following a wave's upgrades (table reads only). */
const READ_CONCURRENCY = 8;

export async function runWaveStep(options: WaveStepOptions): Promise<WaveStepResult> {
  const waves = await options.store.activeWaves();
  if (waves.length === 0) return { outcome: 'idle' };
  // The wave that starts customers first; then the ones that only follow their upgrades.
  waves.sort((a, b) => Number(holdsSlot(b.state)) - Number(holdsSlot(a.state)));
  const reports: WaveRunReport[] = [];
  for (const wave of waves) {
    if (options.signal?.aborted) break;
    reports.push(await new WaveRun(options, wave.waveId).execute());
  }
  return { outcome: 'worked', waves: reports };
}

/** The run stops working on the wave (its reason is the run's `stopReason`). */
class WaveStopped extends Error {
  constructor(readonly reason: WaveStopReason) {
    super(`the wave run stopped (${reason})`);
    this.name = 'WaveStopped';
  }
}

class WaveRun {
  private readonly now: () => number;
  private readonly runId: string;
  private readonly window: StepWindow<WaveStopReason>;
  private wave: WaveRecord | undefined;
  /** The record row as this run last wrote or read it: the next update starts from it (no read in between). */
  private stored: StoredWave | undefined;
  private owned = false;
  private lastError: string | undefined;
  /** The members as last written, in customer id order. */
  private readonly members = new Map<string, WaveMember>();
  private created = 0;
  private calls = 0;
  private throttled = 0;

  constructor(
    private readonly options: WaveStepOptions,
    private readonly waveId: string,
  ) {
    this.now = options.now ?? Date.now;
    this.runId = options.runId ?? randomUUID();
    this.window = new StepWindow<WaveStopReason>({
      clock: options.clock,
      deadline: options.deadline,
      signal: options.signal,
      now: this.now,
      runId: this.runId,
      waiters: 2,
    });
  }

  private get cancelled(): boolean {
    return this.wave?.cancelledAt !== undefined;
  }

  async execute(): Promise<WaveRunReport> {
    const { store, telemetry } = this.options;
    const claim = await this.updateWave((wave) => decideWaveClaim(wave, this.window.lease(), this.now()));
    if (claim.outcome !== 'claimed') {
      const outcome = claim.outcome === 'busy' ? 'busy' : 'ended';
      return { waveId: this.waveId, outcome, created: 0, calls: 0, throttled: 0 };
    }
    this.wave = claim.wave;
    this.owned = true;
    await this.guarded(async () => {
      for await (const member of store.waveMembers(this.waveId)) this.members.set(member.customerId, member);
      await this.follow();
      if (this.wave!.state === 'running') await this.startMembers();
      else await this.resolveCreating();
    });
    // Whatever stopped the work (the deadline, a pause, a failure), the wave's state follows what was written.
    if (this.owned) await this.guarded(() => this.settle());
    if (this.owned && isActive(this.wave.state)) {
      // The lease released (the next run takes the wave at once), the last error kept.
      await this.updateWave((wave) =>
        decideRelease(wave, { lease: this.window.lease(), now: this.now(), error: this.lastError }),
      ).catch((error: unknown) => telemetry.exception(asError(error), { waveId: this.waveId, runId: this.runId }));
    }
    return this.report();
  }

  /** Read → decide → write of the wave's record, from the row this run last wrote or read. */
  private async updateWave<R>(decide: (wave: WaveRecord | undefined) => WaveDecision<R>): Promise<R> {
    const { result, stored } = await this.options.store.updateWave(this.waveId, decide, this.stored);
    this.stored = stored;
    return result;
  }

  /** Runs part of the work; a failure ends it (recorded as the run's last error), a stop just ends it. */
  private async guarded(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      if (error instanceof WaveStopped) return;
      this.window.stop('error');
      this.lastError = describeError(error).text;
      this.options.telemetry.exception(asError(error), { waveId: this.waveId, runId: this.runId });
    }
  }

  /** Member rows with the record; false (and the run stops) when the wave is no longer the run's, or stopped running. */
  private async write(members: WaveMember[], startsCustomers = false): Promise<boolean> {
    const result = await this.updateWave((wave) =>
      decideMembers(wave, { lease: this.window.lease(), now: this.now(), members, startsCustomers }),
    );
    switch (result.outcome) {
      case 'written':
        this.wave = result.wave;
        for (const member of members) this.members.set(member.customerId, member);
        return true;
      case 'lost':
        this.owned = false;
        this.window.stop('lease-lost');
        return false;
      case 'not-running':
        this.wave = result.wave;
        this.window.stop('not-running');
        return false;
    }
  }

  private async step(member: WaveMember, step: MemberStep, startsCustomers = false): Promise<WaveMember> {
    const next = memberAfter(member, step, this.now());
    if (!(await this.write([next], startsCustomers))) throw new WaveStopped(this.window.stopReason ?? 'lease-lost');
    return next;
  }

  /** The status of every upgrade handed over and not final yet, from its tracking row (point reads, no call). */
  private async follow(): Promise<void> {
    const tracking = this.options.accept.store;
    const open = [...this.members.values()].filter((m) => isInFlight(m) && m.upgradeId);
    const changed: WaveMember[] = [];
    const worker = async () => {
      for (let member = open.shift(); member; member = open.shift()) {
        const status = (await tracking.readUpgrade(member.upgradeId!))?.record.status;
        if (status !== undefined && status !== member.upgradeStatus) {
          changed.push(memberAfter(member, { kind: 'upgrade-status', status }, this.now()));
        }
      }
    };
    await Promise.all(Array.from({ length: READ_CONCURRENCY }, worker));
    changed.sort((a, b) => (a.customerId < b.customerId ? -1 : 1));
    for (let i = 0; i < changed.length; i += MAX_MEMBERS_PER_WRITE) {
      if (!(await this.write(changed.slice(i, i + MAX_MEMBERS_PER_WRITE)))) throw new WaveStopped('lease-lost');
    }
  }

  /** The members left to start, one at a time at the wave's pace, until the deadline or a pause or cancel. */
  private async startMembers(): Promise<void> {
    const pace = new RequestGate(
      this.wave!.createsPerMinute / 60,
      this.options.clock,
      this.options.sleep ?? platformSleep,
    );
    for (const member of [...this.members.values()]) {
      if (!isOpen(member, false)) continue;
      if (this.window.stopped()) return;
      try {
        await pace.acquire(this.window.slotSignal);
      } catch {
        this.window.slotWaitEnded();
        return;
      }
      if (this.window.stopped()) return;
      await this.startMember(member);
    }
  }

  /**
   * One member: marked `creating` while the wave runs (else the run stops here), re-checked, created if eligible,
   * and what came of it written.
   */
  private async startMember(member: WaveMember): Promise<void> {
    const [marked, row] = await Promise.all([
      this.step(member, { kind: 'creating' }, true),
      this.options.store.readCustomer(member.customerId),
    ]);
    const facts = factsOfRow(member.customerId, row);
    let verdict = await this.recheck(facts);
    if (verdict.kind === 'create') {
      const request = { customerId: member.customerId, productFamily: PRODUCT_FAMILY };
      const requestId = createRequestId(this.waveId, member.customerId);
      try {
        const created = await this.call((options) =>
          this.options.upgrades.createUpgrade(request, { ...options, requestId }),
        );
        this.created++;
        verdict = { kind: 'hand-over', upgradeId: created.upgradeId.toLowerCase() };
      } catch (error) {
        if (error instanceof WaveStopped) throw error;
        verdict = decideFailure(facts, error);
      }
    }
    await this.apply(marked, verdict);
  }

  /** Eligibility, right now, read with what the scan knew of the customer. */
  private async recheck(facts: CustomerFacts): Promise<MemberVerdict> {
    try {
      const answer = await this.call((options) =>
        this.options.upgrades.checkEligibility(
          { customerId: facts.customerId, productFamily: PRODUCT_FAMILY },
          options,
        ),
      );
      return decideRecheck(facts, {
        isEligible: answer.isEligible,
        ...(answer.reason ? { reason: answer.reason } : {}),
        ...(answer.upgradeId ? { upgradeId: answer.upgradeId.toLowerCase() } : {}),
      });
    } catch (error) {
      if (error instanceof WaveStopped) throw error;
      return decideFailure(facts, error);
    }
  }

  /** What came of a member: its upgrade handed over (then recorded), skipped, or a failure. Never a create. */
  private async apply(member: WaveMember, verdict: MemberVerdict, notStarted?: MemberStep): Promise<void> {
    switch (verdict.kind) {
      case 'hand-over':
        await this.handOver(member.customerId, verdict.upgradeId);
        await this.step(member, { kind: 'handed-over', upgradeId: verdict.upgradeId });
        return;
      case 'skip':
        await this.step(member, { kind: 'skipped', skip: verdict.skip });
        return;
      case 'retry':
        await this.step(member, { kind: 'failed-try', failure: verdict.failure });
        return;
      case 'fail':
        await this.step(member, { kind: 'failed', failure: verdict.failure });
        return;
      case 'create':
        // Only a wave that no longer starts customers gets here (resolveCreating): the customer was never started.
        if (notStarted) await this.step(member, notStarted);
        return;
    }
  }

  /** The upgrade to the tracking, through the one entry every source uses; a failed send is re-sent by the poll run. */
  private async handOver(customerId: string, upgradeId: string): Promise<void> {
    const accepted = await acceptUpgrade(this.options.accept, {
      upgradeId,
      customerId,
      productFamily: PRODUCT_FAMILY,
      correlationId: this.waveId,
      source: 'wave',
      waveId: this.waveId,
    });
    if (accepted.sendError !== undefined) {
      this.options.telemetry.exception(asError(accepted.sendError), { upgradeId, waveId: this.waveId });
    }
  }

  /**
   * Members left `creating` in a wave that no longer starts customers (a run died, or a pause or cancel landed after
   * the mark): re-checked, never created — an upgrade Partner Center names is handed over, else the customer was not
   * started.
   */
  private async resolveCreating(): Promise<void> {
    for (const member of [...this.members.values()]) {
      if (member.status !== 'creating' || this.window.stopped()) continue;
      const facts = factsOfRow(member.customerId, await this.options.store.readCustomer(member.customerId));
      await this.apply(member, await this.recheck(facts), { kind: 'not-started' });
    }
  }

  /** The wave's state after the run's work: following once no member is left to start, ended once all are settled. */
  private async settle(): Promise<void> {
    const members = [...this.members.values()];
    const tally: MemberTally = {
      open: members.filter((m) => isOpen(m, this.cancelled)).length,
      inFlight: members.filter(isInFlight).length,
    };
    const result = await this.updateWave((wave) =>
      decideSettle(wave, { lease: this.window.lease(), now: this.now(), tally }),
    );
    if (result.outcome === 'lost') {
      this.owned = false;
      this.window.stop('lease-lost');
      return;
    }
    this.wave = result.wave;
    if (!isActive(result.wave.state)) this.owned = false;
  }

  /** One Partner Center call through the run's gate: a 429 pauses every caller and is tried again until the run stops. */
  private call<T>(send: (options: CallOptions) => Promise<T>): Promise<T> {
    return callInStep(
      this.options.gate,
      {
        correlationId: this.waveId,
        window: this.window,
        halt: (reason, error) => {
          if (reason === 'auth') this.lastError = describeError(error).text;
          return new WaveStopped(this.window.stop(reason as WaveStopReason));
        },
        onCall: () => this.calls++,
        onThrottled: () => this.throttled++,
      },
      send,
    );
  }

  private report(): WaveRunReport {
    const { telemetry } = this.options;
    const wave = this.wave!;
    const progress = countProgress(this.members.values(), wave.cancelledAt !== undefined);
    const stoppedBy = isActive(wave.state) ? this.window.stopReason : undefined;
    telemetry.event(
      'WaveProgress',
      { waveId: wave.waveId, runId: this.runId, state: wave.state, ...(stoppedBy ? { stoppedBy } : {}) },
      {
        created: progress.created,
        skipped: progress.skipped,
        createFailed: progress.createFailed,
        inProgress: progress.inProgress,
        completed: progress.completed,
        failed: progress.failed,
        stale: progress.stale,
        remaining: progress.notStarted + progress.creating,
      },
    );
    if (wave.state === 'completed' || wave.state === 'cancelled') {
      telemetry.event(
        'WaveCompleted',
        { waveId: wave.waveId, state: wave.state },
        {
          members: progress.members,
          created: progress.created,
          skipped: progress.skipped,
          createFailed: progress.createFailed,
          completed: progress.completed,
          failed: progress.failed,
          stale: progress.stale,
          durationMs: Date.parse(wave.finishedAt ?? wave.updatedAt) - Date.parse(wave.startedAt ?? wave.createdAt),
        },
      );
    }
    return {
      waveId: wave.waveId,
      outcome: 'worked',
      state: wave.state,
      created: this.created,
      calls: this.calls,
      throttled: this.throttled,
      progress,
      ...(stoppedBy ? { stoppedBy } : {}),
      ...(this.lastError ? { error: this.lastError } : {}),
    };
  }
}
