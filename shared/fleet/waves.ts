import { randomUUID } from 'node:crypto';
import type { Telemetry } from '../telemetry/telemetry';
import type { FleetCustomerRecord } from './records';
import { isListed, type FleetStore } from './store';
import { planWave, type WavePlan, type WaveRequest } from './wave-plan';
import {
  countProgress,
  isSettled,
  progressOf,
  type MemberProgress,
  type WaveMember,
  type WaveProgress,
  type WaveRecord,
} from './wave-records';
import { decideCommand, decideWaveCreate, type CommandResult, type WaveCommand } from './wave-state';

/**
 * What an operator does with waves: plan one (a dry run), create it, read it with its progress and members, pause,
 * resume or cancel it. No Partner Center call is made here: the timer run starts the customers, at the wave's pace,
 * within the background budget (wave-run.ts).
 */

export interface WaveOptions {
  now?: () => number;
  telemetry?: Telemetry;
}

export type CreateWaveOutcome =
  | { outcome: 'dry-run'; plan: WavePlan; createsPerMinute: number }
  /** No customer of the request can move now. */
  | { outcome: 'empty'; plan: WavePlan }
  /** `members`: the rows written, all pending, in customer id order (as a read lists them). */
  | { outcome: 'created'; wave: WaveRecord; plan: WavePlan; members: WaveMember[] }
  /** Another wave still starts customers (running or paused): one at a time. */
  | { outcome: 'exists'; waveId: string };

/** Reads at most this many customer rows at once (explicit ids). */
const READ_CONCURRENCY = 16;

/** The rows of the customers asked for, of those the last completed scan listed (no longer listed: no row). */
async function rowsFor(store: FleetStore, request: WaveRequest['members']): Promise<Map<string, FleetCustomerRecord>> {
  const rows = new Map<string, FleetCustomerRecord>();
  const since = await store.listedSince();
  switch (request.kind) {
    case 'customers': {
      const ids = [...request.customerIds];
      const worker = async () => {
        for (let id = ids.shift(); id !== undefined; id = ids.shift()) {
          const row = await store.readCustomer(id);
          if (row && isListed(row, since)) rows.set(id, row);
        }
      };
      await Promise.all(Array.from({ length: READ_CONCURRENCY }, worker));
      return rows;
    }
    case 'select':
      for await (const row of store.customers({ state: request.state, scannedSince: since })) {
        rows.set(row.customerId, row);
      }
      return rows;
  }
}

/** Customer id → the active wave that has not settled it (it is being started, or its upgrade is not final). */
export async function unsettledMembers(store: FleetStore): Promise<Map<string, string>> {
  const busy = new Map<string, string>();
  for (const wave of await store.activeWaves()) {
    const cancelled = wave.cancelledAt !== undefined;
    for await (const member of store.waveMembers(wave.waveId)) {
      if (!isSettled(member, cancelled)) busy.set(member.customerId, wave.waveId);
    }
  }
  return busy;
}

/** The plan of a wave from the scan's rows and the other waves (reads only). */
export async function planFromStore(store: FleetStore, request: WaveRequest['members']): Promise<WavePlan> {
  const [rows, busy] = await Promise.all([rowsFor(store, request), unsettledMembers(store)]);
  return planWave(request, rows, busy);
}

/**
 * Creates a wave (or, `dryRun`, only says who it would move and who not, and why). One wave at a time: while another
 * wave still starts customers, the answer is that wave. The members are written first (keyed by the new wave's id,
 * inert until its record exists), then the wave slot and the record in one conditional transaction: of two creations
 * at once one wave is made, and the other gets it back (its own member rows removed).
 */
export async function createWave(
  store: FleetStore,
  request: WaveRequest & { dryRun?: boolean },
  defaults: { createsPerMinute: number },
  options: WaveOptions = {},
): Promise<CreateWaveOutcome> {
  const now = options.now ?? Date.now;
  const createsPerMinute = request.createsPerMinute ?? defaults.createsPerMinute;
  if (!request.dryRun) {
    const active = (await store.readWaveSlot())?.activeWaveId;
    if (active) return { outcome: 'exists', waveId: active };
  }
  const plan = await planFromStore(store, request.members);
  if (request.dryRun) return { outcome: 'dry-run', plan, createsPerMinute };
  if (plan.members.length === 0) return { outcome: 'empty', plan };
  const waveId = randomUUID();
  const at = new Date(now()).toISOString();
  const wave: WaveRecord = {
    waveId,
    state: 'running',
    selection: plan.selection,
    createsPerMinute,
    members: plan.members.length,
    createdAt: at,
    updatedAt: at,
    runs: 0,
  };
  const members: WaveMember[] = plan.members
    .map((member): WaveMember => ({
      waveId,
      customerId: member.customerId,
      ...(member.companyName === undefined ? {} : { companyName: member.companyName }),
      status: 'pending',
      attempts: 0,
      updatedAt: at,
    }))
    .sort((a, b) => (a.customerId < b.customerId ? -1 : a.customerId > b.customerId ? 1 : 0));
  await store.insertMembers(members);
  const created = await store.claimWaveSlot((slot) => decideWaveCreate(slot, wave));
  if (created.outcome === 'exists') {
    // Best effort: rows no record names are inert anyway.
    await store
      .deleteMembers(
        waveId,
        plan.members.map((m) => m.customerId),
      )
      .catch(() => undefined);
    return created;
  }
  options.telemetry?.event('WaveCreated', { waveId }, { members: members.length });
  return { outcome: 'created', wave: created.wave, plan, members };
}

export interface WaveView {
  wave: WaveRecord;
  progress: WaveProgress;
  members: (WaveMember & { progress: MemberProgress })[];
}

/** A wave with its progress by status and its members (one point read, one range query of at most 200 rows). */
export async function readWave(store: FleetStore, waveId: string): Promise<WaveView | undefined> {
  const wave = await store.readWave(waveId);
  return wave && waveView(store, wave);
}

/** The view of a wave whose record is in hand (just written, or read): its members, one range query. */
export async function waveView(store: FleetStore, wave: WaveRecord): Promise<WaveView> {
  const members: WaveMember[] = [];
  for await (const member of store.waveMembers(wave.waveId)) members.push(member);
  return viewOf(wave, members);
}

/** The view of a wave from its record and its members (in customer id order): no I/O. */
export function viewOf(wave: WaveRecord, members: readonly WaveMember[]): WaveView {
  const withStatus = members.map((member) => withProgress(member, wave));
  return { wave, progress: countProgress(withStatus, wave.cancelledAt !== undefined), members: withStatus };
}

function withProgress(
  member: WaveMember,
  wave: Pick<WaveRecord, 'cancelledAt'>,
): WaveMember & { progress: MemberProgress } {
  return { ...member, progress: progressOf(member, wave.cancelledAt !== undefined) };
}

/** A wave's members, in customer id order, each with its place in the progress (for exports). */
export async function* waveMembersWithStatus(
  store: FleetStore,
  wave: Pick<WaveRecord, 'waveId' | 'cancelledAt'>,
): AsyncGenerator<WaveMember & { progress: MemberProgress }, void, undefined> {
  for await (const member of store.waveMembers(wave.waveId)) yield withProgress(member, wave);
}

const COMMAND_EVENTS = { pause: 'WavePaused', resume: 'WaveResumed', cancel: 'WaveCancelled' } as const;

/** Pause, resume or cancel (wave-state.ts says when each applies); the event is sent when it did. */
export async function commandWave(
  store: FleetStore,
  waveId: string,
  command: WaveCommand,
  options: WaveOptions = {},
): Promise<CommandResult> {
  const now = options.now ?? Date.now;
  const { result } = await store.updateWave(waveId, (wave) => decideCommand(wave, command, now()));
  if (result.outcome === 'done') options.telemetry?.event(COMMAND_EVENTS[command], { waveId });
  return result;
}
