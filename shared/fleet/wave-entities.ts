import { dropUndefined } from '../json';
import { leaseFields, leaseOf } from '../storage/lease';
import { clip, MAX_ERROR_CHARS, MAX_LABEL_CHARS } from '../tracking/entities';
import { encodeKey, joinKey } from '../tracking/keys';
import type { UpgradeStatus } from '../tracking/state';
import { FLEET_PARTITION, json, MAX_STEP_CHARS, num, str, type Entity } from './entities';
import type { NotEligibleReason } from './records';
import {
  WAVE_STATES,
  type MemberSkip,
  type MemberStatus,
  type WaveMember,
  type WaveRecord,
  type WaveSelection,
  type WaveSlot,
  type WaveState,
} from './wave-records';

/**
 * The waves' rows in the `Fleet` table's one partition, beside the scan's (`scan`, `c!`, `s!`), so a wave's record
 * and its members' rows are written in one entity-group transaction:
 *
 * | row         | RowKey                                   |
 * |-------------|------------------------------------------|
 * | wave slot   | `wave` — the wave that may still start customers, if any |
 * | wave        | `v!` enc(waveId) — its record            |
 * | member      | `m!` enc(waveId) `!` enc(customerId)     |
 */

export const WAVE_SLOT_ROW = 'wave';
const WAVE_ROW = 'v';
const MEMBER_ROW = 'm';

export const waveSlotKeys = { partitionKey: FLEET_PARTITION, rowKey: WAVE_SLOT_ROW } as const;

export function waveKeys(waveId: string): { partitionKey: string; rowKey: string } {
  return { partitionKey: FLEET_PARTITION, rowKey: joinKey(WAVE_ROW, encodeKey(waveId)) };
}

export function memberKeys(waveId: string, customerId: string): { partitionKey: string; rowKey: string } {
  return { partitionKey: FLEET_PARTITION, rowKey: joinKey(MEMBER_ROW, encodeKey(waveId), encodeKey(customerId)) };
}

/** RowKey range of the wave records: `v!` ≤ key < `v"`. */
export const WAVE_RANGE = { from: joinKey(WAVE_ROW, ''), below: `${WAVE_ROW}"` } as const;

/** RowKey range of one wave's members, in customer id order. */
export function memberRange(waveId: string): { from: string; below: string } {
  const prefix = joinKey(MEMBER_ROW, encodeKey(waveId));
  return { from: joinKey(prefix, ''), below: `${prefix}"` };
}

export function waveSlotToEntity(slot: WaveSlot): Entity {
  return { ...waveSlotKeys, ...dropUndefined({ activeWaveId: slot.activeWaveId, lastWaveId: slot.lastWaveId }) };
}

export function waveSlotFromEntity(entity: Record<string, unknown>): WaveSlot {
  const slot: WaveSlot = {};
  const active = str(entity.activeWaveId);
  const last = str(entity.lastWaveId);
  if (active !== undefined) slot.activeWaveId = active;
  if (last !== undefined) slot.lastWaveId = last;
  return slot;
}

/** The record row; a Replace, so what no longer applies (a released lease) is gone. */
export function waveToEntity(wave: WaveRecord): Entity {
  return {
    ...waveKeys(wave.waveId),
    ...dropUndefined({
      waveId: wave.waveId,
      state: wave.state,
      selection: JSON.stringify(wave.selection),
      createsPerMinute: wave.createsPerMinute,
      members: wave.members,
      createdAt: wave.createdAt,
      startedAt: wave.startedAt,
      pausedAt: wave.pausedAt,
      cancelledAt: wave.cancelledAt,
      createsDoneAt: wave.createsDoneAt,
      finishedAt: wave.finishedAt,
      updatedAt: wave.updatedAt,
      runs: wave.runs,
      lastError: wave.lastError && clip(wave.lastError, MAX_ERROR_CHARS),
      lastErrorAt: wave.lastErrorAt,
      ...leaseFields(wave.lease),
    }),
  };
}

/** A wave as stored. Storage proves nothing: an unknown state reads as `cancelled` (ended, never started again). */
export function waveFromEntity(entity: Record<string, unknown>): WaveRecord {
  const stored = str(entity.state);
  const state: WaveState = (WAVE_STATES as readonly string[]).includes(stored ?? '')
    ? (stored as WaveState)
    : 'cancelled';
  const wave: WaveRecord = {
    waveId: String(entity.waveId),
    state,
    selection: json<WaveSelection>(entity.selection, { kind: 'customers', count: 0 }),
    createsPerMinute: num(entity.createsPerMinute) ?? 1,
    members: num(entity.members) ?? 0,
    createdAt: String(entity.createdAt),
    updatedAt: String(entity.updatedAt ?? entity.createdAt),
    runs: num(entity.runs) ?? 0,
  };
  const optional = {
    startedAt: str(entity.startedAt),
    pausedAt: str(entity.pausedAt),
    cancelledAt: str(entity.cancelledAt),
    createsDoneAt: str(entity.createsDoneAt),
    finishedAt: str(entity.finishedAt),
    lastError: str(entity.lastError),
    lastErrorAt: str(entity.lastErrorAt),
    lease: leaseOf({ leaseOwner: entity.leaseOwner, leaseUntil: entity.leaseUntil }),
  };
  Object.assign(wave, dropUndefined(optional));
  return wave;
}

export function memberToEntity(member: WaveMember): Entity {
  return {
    ...memberKeys(member.waveId, member.customerId),
    ...dropUndefined({
      waveId: member.waveId,
      customerId: member.customerId,
      companyName: member.companyName && clip(member.companyName, MAX_LABEL_CHARS),
      status: member.status,
      attempts: member.attempts,
      skipState: member.skip?.state,
      skipReason: member.skip?.reason,
      skipCode: member.skip?.code,
      nextStep: member.skip && clip(member.skip.nextStep, MAX_STEP_CHARS),
      errorCategory: member.lastError?.category,
      errorCode: member.lastError?.code,
      error: member.lastError && clip(member.lastError.text, MAX_ERROR_CHARS),
      upgradeId: member.upgradeId,
      upgradeStatus: member.upgradeStatus,
      updatedAt: member.updatedAt,
    }),
  };
}

export function memberFromEntity(entity: Record<string, unknown>): WaveMember {
  const member: WaveMember = {
    waveId: String(entity.waveId),
    customerId: String(entity.customerId),
    status: (str(entity.status) ?? 'pending') as MemberStatus,
    attempts: num(entity.attempts) ?? 0,
    updatedAt: String(entity.updatedAt),
  };
  const skipState = str(entity.skipState);
  if (skipState !== undefined) {
    const skip: MemberSkip = { state: skipState as MemberSkip['state'], nextStep: str(entity.nextStep) ?? '' };
    const reason = str(entity.skipReason);
    if (reason !== undefined) skip.reason = reason as NotEligibleReason;
    const code = num(entity.skipCode);
    if (code !== undefined) skip.code = code;
    member.skip = skip;
  }
  const category = str(entity.errorCategory);
  if (category !== undefined) {
    member.lastError = { category, text: str(entity.error) ?? '' };
    const code = num(entity.errorCode);
    if (code !== undefined) member.lastError.code = code;
  }
  const optional = {
    companyName: str(entity.companyName),
    upgradeId: str(entity.upgradeId),
    upgradeStatus: str(entity.upgradeStatus) as UpgradeStatus | undefined,
  };
  Object.assign(member, dropUndefined(optional));
  return member;
}
