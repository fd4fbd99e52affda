import { PartnerCenterError } from '../../../shared/partner-center';
import type { FleetCustomerRecord } from '../../../shared/fleet/records';
import {
  createRequestId,
  decideFailure,
  decideRecheck,
  factsOfRow,
  MAX_START_ATTEMPTS,
  memberAfter,
} from '../../../shared/fleet/wave-member';
import { countProgress, isOpen, isSettled, progressOf, type WaveMember } from '../../../shared/fleet/wave-records';
import { isGuid } from '../../../shared/ids';
import { parseTrackingMessage } from '../../../shared/tracking/start-tracking';

const CUSTOMER = '00000000-0000-4000-8000-000000000001';
const WAVE = '0b5c1f5e-0000-4000-8000-00000000000a';
const UPGRADE = '3f2b1a00-0000-4000-8000-000000000009';
const T0 = Date.parse('2026-05-01T10:00:00Z');

function pcError(status: number, code?: number, extra: { existingUpgradeId?: string; description?: string } = {}) {
  return new PartnerCenterError({
    operation: 'createUpgrade',
    status,
    code,
    description: extra.description ?? `refused ${code ?? status}`,
    existingUpgradeId: extra.existingUpgradeId,
  });
}

const row: FleetCustomerRecord = {
  customerId: CUSTOMER,
  usage: 'legacy',
  subscriptionsRead: true,
  legacySubscriptions: [{ id: 'sub-1', status: 'suspended', partnerId: '4812345' }],
  legacyCount: 1,
  azurePlans: [],
  resellers: ['4812345'],
  agreement: 'attested',
  state: 'eligible',
  nextStep: 'Ready',
  scanId: 's',
  scanPage: 0,
  scannedAt: '2026-05-01T02:00:00.000Z',
};

describe("a member's re-check right before the create", () => {
  const facts = factsOfRow(CUSTOMER, row);

  it('eligible: create', () => {
    expect(decideRecheck(facts, { isEligible: true })).toEqual({ kind: 'create' });
  });

  it('an upgrade Partner Center names: handed over without a create', () => {
    expect(decideRecheck(facts, { isEligible: false, upgradeId: UPGRADE })).toEqual({
      kind: 'hand-over',
      upgradeId: UPGRADE,
    });
  });

  it('not eligible any more: skipped with the reason and the next step naming what the scan saw', () => {
    const verdict = decideRecheck(facts, { isEligible: false, code: 900105, reason: 'suspended' });
    expect(verdict).toEqual({
      kind: 'skip',
      skip: {
        state: 'not-eligible',
        reason: 'suspended-subscriptions',
        code: 900105,
        nextStep: expect.stringContaining('sub-1'),
      },
    });
  });

  it('a customer the scan no longer has a row for is read from the answer alone', () => {
    const verdict = decideRecheck(factsOfRow(CUSTOMER, undefined), { isEligible: false, code: 20002 });
    expect(verdict).toMatchObject({ kind: 'skip', skip: { state: 'not-eligible', reason: 'no-relationship' } });
  });
});

describe("a call's failure for a member", () => {
  const facts = factsOfRow(CUSTOMER, row);

  it("a business refusal is Partner Center's answer: skipped", () => {
    expect(decideFailure(facts, pcError(403, 900130))).toMatchObject({
      kind: 'skip',
      skip: { state: 'not-eligible', reason: 'bought-recently', code: 900130 },
    });
  });

  it('a 409 naming an upgrade (900109): that upgrade is handed over', () => {
    const error = pcError(409, 900109, { existingUpgradeId: UPGRADE.toUpperCase() });
    expect(decideFailure(facts, error)).toEqual({ kind: 'hand-over', upgradeId: UPGRADE });
  });

  it('a conflict without an upgrade (900110 already completed) skips with its words', () => {
    const active = factsOfRow(CUSTOMER, { ...row, legacySubscriptions: [{ id: 'sub-1', status: 'active' }] });
    const verdict = decideFailure(active, pcError(400, 900110, { description: 'The upgrade is already completed.' }));
    expect(verdict).toMatchObject({
      kind: 'skip',
      skip: { code: 900110, nextStep: expect.stringContaining('completed') },
    });
  });

  it('throttling and outages are tried again later; anything else fails the member', () => {
    expect(decideFailure(facts, pcError(503))).toMatchObject({ kind: 'retry', failure: { category: 'transient' } });
    expect(decideFailure(facts, pcError(429))).toMatchObject({ kind: 'retry', failure: { category: 'throttled' } });
    expect(decideFailure(facts, pcError(400, 900118))).toMatchObject({
      kind: 'fail',
      failure: { category: 'invalid-input', code: 900118 },
    });
    expect(decideFailure(facts, new Error('socket'))).toMatchObject({
      kind: 'fail',
      failure: { category: 'internal' },
    });
  });
});

describe('the member row after each step', () => {
  const pending: WaveMember = { waveId: WAVE, customerId: CUSTOMER, status: 'pending', attempts: 0, updatedAt: 'x' };
  const failure = { category: 'transient', text: 'HTTP 503' };

  it('retries count up to MAX_START_ATTEMPTS, then the member has failed to start', () => {
    let member = memberAfter(pending, { kind: 'creating' }, T0);
    for (let i = 1; i < MAX_START_ATTEMPTS; i++) {
      member = memberAfter(member, { kind: 'failed-try', failure }, T0);
      expect(member).toMatchObject({ status: 'creating', attempts: i, lastError: failure });
    }
    member = memberAfter(member, { kind: 'failed-try', failure }, T0);
    expect(member).toMatchObject({ status: 'create-failed', attempts: MAX_START_ATTEMPTS });
  });

  it('handed over, then followed: its place in the progress is its upgrade status', () => {
    const handed = memberAfter(pending, { kind: 'handed-over', upgradeId: UPGRADE }, T0);
    expect(progressOf(handed, false)).toBe('in-progress');
    expect(isSettled(handed, false)).toBe(false);
    const places = (['Pending', 'InProgress', 'Completed', 'Failed', 'Cancelled', 'Stale', 'Unknown'] as const).map(
      (status) => progressOf(memberAfter(handed, { kind: 'upgrade-status', status }, T0), false),
    );
    expect(places).toEqual(['in-progress', 'in-progress', 'completed', 'failed', 'failed', 'stale', 'in-progress']);
    expect(isSettled(memberAfter(handed, { kind: 'upgrade-status', status: 'Completed' }, T0), false)).toBe(true);
  });

  it('a pending member of a cancelled wave is cancelled and settled; a creating one is neither', () => {
    expect(progressOf(pending, true)).toBe('cancelled');
    expect(isSettled(pending, true)).toBe(true);
    expect(isOpen(pending, true)).toBe(false);
    const creating = memberAfter(pending, { kind: 'creating' }, T0);
    expect([progressOf(creating, true), isSettled(creating, true), isOpen(creating, true)]).toEqual([
      'creating',
      false,
      true,
    ]);
  });

  it('the progress counts every member once, skipped ones by reason', () => {
    const members: WaveMember[] = [
      pending,
      memberAfter(pending, { kind: 'creating' }, T0),
      memberAfter(
        pending,
        { kind: 'skipped', skip: { state: 'not-eligible', reason: 'bought-recently', nextStep: '' } },
        T0,
      ),
      memberAfter(pending, { kind: 'skipped', skip: { state: 'advisor', nextStep: '' } }, T0),
      memberAfter(pending, { kind: 'failed', failure }, T0),
      { ...memberAfter(pending, { kind: 'handed-over', upgradeId: UPGRADE }, T0), upgradeStatus: 'Completed' },
      { ...memberAfter(pending, { kind: 'handed-over', upgradeId: UPGRADE }, T0), upgradeStatus: 'Stale' },
      memberAfter(pending, { kind: 'handed-over', upgradeId: UPGRADE }, T0),
    ];
    expect(countProgress(members, false)).toEqual({
      members: 8,
      notStarted: 1,
      creating: 1,
      skipped: 2,
      skippedByReason: { 'bought-recently': 1, advisor: 1 },
      createFailed: 1,
      inProgress: 1,
      completed: 1,
      failed: 0,
      stale: 1,
      cancelled: 0,
      created: 3,
    });
  });
});

describe('the ids a wave sends and carries', () => {
  it("a member's create request id is a GUID fixed by wave and customer (any case), different across waves", () => {
    const first = createRequestId(WAVE, CUSTOMER);
    expect(isGuid(first)).toBe(true);
    expect(createRequestId(WAVE.toUpperCase(), CUSTOMER.toUpperCase())).toBe(first);
    expect(createRequestId('0b5c1f5e-0000-4000-8000-00000000000b', CUSTOMER)).not.toBe(first);
    expect(createRequestId(WAVE, '00000000-0000-4000-8000-000000000002')).not.toBe(first);
  });

  it('a tracking message carries a wave id only as a GUID (lower-cased)', () => {
    const base = { upgradeId: UPGRADE, customerId: CUSTOMER, productFamily: 'Azure' };
    expect(parseTrackingMessage({ ...base, waveId: WAVE.toUpperCase() })).toEqual({
      ok: true,
      message: { ...base, waveId: WAVE },
    });
    expect(parseTrackingMessage(base)).toEqual({ ok: true, message: base });
    expect(parseTrackingMessage({ ...base, waveId: 'wave-1' })).toEqual({
      ok: false,
      reason: 'waveId must be a GUID when given',
    });
  });
});
