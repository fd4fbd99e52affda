import { parseNcrontab } from '../../../shared/config';
import {
  customerFromEntity,
  customerToEntity,
  MAX_LIST_CHARS,
  packList,
  pastScanToEntity,
  slotFromEntity,
  slotToEntity,
} from '../../../shared/fleet/entities';
import { emptyCounts, type FleetCustomerRecord, type ScanSlot } from '../../../shared/fleet/records';
import {
  addCounts,
  decideBatch,
  decideClaim,
  decideComplete,
  decidePageDone,
  decideRelease,
  decideRequest,
  decideSchedule,
  type Progress,
} from '../../../shared/fleet/scan-state';
import { newLease } from '../../../shared/storage/lease';

const T0 = Date.parse('2026-05-01T01:00:00.000Z');
const MINUTE = 60_000;
const daily = parseNcrontab('0 0 2 * * *');

function row(customerId: string, overrides: Partial<FleetCustomerRecord> = {}): FleetCustomerRecord {
  return {
    customerId,
    usage: 'legacy',
    subscriptionsRead: true,
    legacySubscriptions: [{ id: 'sub-1', status: 'active', partnerId: '4812345', entitlementId: 'ent-1' }],
    legacyCount: 1,
    azurePlans: [],
    resellers: ['4812345'],
    agreement: 'attested',
    eligibility: { isEligible: true },
    state: 'eligible',
    nextStep: 'Ready.',
    scanId: 'scan-1',
    scanPage: 0,
    scannedAt: new Date(T0).toISOString(),
    ...overrides,
  };
}

/** A slot with a requested scan, claimed by `owner` at T0. */
function claimedBy(owner: string): ScanSlot {
  const requested = decideRequest(undefined, { scanId: 'scan-1', trigger: 'on-demand', now: T0 }).write!;
  return decideClaim(requested, newLease(owner, T0, 5 * MINUTE), T0).write!;
}

function progress(owner: string, page = 0, at = T0 + MINUTE): Progress {
  return { scanId: 'scan-1', page, lease: newLease(owner, at, 5 * MINUTE), now: at, delta: {} };
}

describe('the scan slot: one scan at a time', () => {
  it('a request creates a scan; a second one gets the scan not finished back', () => {
    const first = decideRequest(undefined, { scanId: 'scan-1', trigger: 'on-demand', now: T0 });
    expect(first.result).toMatchObject({ outcome: 'created', scan: { scanId: 'scan-1', state: 'requested' } });
    const second = decideRequest(first.write, { scanId: 'scan-2', trigger: 'on-demand', now: T0 + 1 });
    expect(second.result).toMatchObject({ outcome: 'exists', scan: { scanId: 'scan-1' } });
    expect(second.write).toBeUndefined();
  });

  it('after a scan completes, the next one estimates its size from it', () => {
    let slot = claimedBy('run-a');
    slot = decidePageDone(slot, { ...progress('run-a'), delta: { checked: 42 } }, undefined).write!;
    expect(slot.scan).toMatchObject({ state: 'completed', counts: { checked: 42, pages: 1 } });
    expect(slot.scan?.lease).toBeUndefined();
    const next = decideRequest(slot, { scanId: 'scan-2', trigger: 'schedule', now: T0 + 2 * MINUTE });
    expect(next.result).toMatchObject({ outcome: 'created', scan: { scanId: 'scan-2', estimatedCustomers: 42 } });
  });

  it('a run claims the scan unless another run’s lease is in force; an expired lease is taken over', () => {
    const slot = claimedBy('run-a');
    expect(slot.scan).toMatchObject({ state: 'running', runs: 1, lease: { owner: 'run-a' } });
    const busy = decideClaim(slot, newLease('run-b', T0 + MINUTE, 5 * MINUTE), T0 + MINUTE);
    expect(busy.result.outcome).toBe('busy');
    expect(busy.write).toBeUndefined();
    const later = T0 + 6 * MINUTE;
    const taken = decideClaim(slot, newLease('run-b', later, 5 * MINUTE), later);
    expect(taken.result).toMatchObject({ outcome: 'claimed', firstStart: false, scan: { runs: 2 } });
    // The first run's writes are refused from then on: the scan is no longer its.
    expect(decideBatch(taken.write, progress('run-a', 0, later), [row('c-1')]).result.outcome).toBe('lost');
  });

  it('a batch adds its rows and counts, and counts how many of the page are done', () => {
    const slot = claimedBy('run-a');
    const decision = decideBatch(
      slot,
      {
        ...progress('run-a'),
        delta: { checked: 2, byState: { eligible: 2 }, calls: { ...emptyCounts().calls, eligibility: 2 } },
      },
      [row('c-1'), row('c-2')],
    );
    expect(decision.customers?.map((c) => c.customerId)).toEqual(['c-1', 'c-2']);
    expect(decision.write?.scan).toMatchObject({
      doneInPage: 2,
      counts: { checked: 2, byState: { eligible: 2 }, calls: { eligibility: 2 } },
    });
  });

  it('a write for a page the scan has left is refused', () => {
    let slot = claimedBy('run-a');
    slot = decidePageDone(slot, progress('run-a', 0), {
      list: 'customers',
      uri: '/v1/customers?seekOperation=Next',
      headers: {},
    }).write!;
    expect(slot.scan).toMatchObject({ page: 1, doneInPage: 0, cursor: { list: 'customers' } });
    expect(decideBatch(slot, progress('run-a', 0), [row('c-1')]).result.outcome).toBe('lost');
    expect(decideBatch(slot, progress('run-a', 1), [row('c-1')]).result.outcome).toBe('written');
  });

  it('completing keeps the finished scan as a past scan; a release frees the lease and keeps the error', () => {
    const slot = claimedBy('run-a');
    const error = { text: 'transient HTTP 503: unavailable', category: 'transient', code: 503 };
    const released = decideRelease(slot, progress('run-a'), error).write!;
    expect(released.scan).toMatchObject({
      state: 'running',
      lastError: 'transient HTTP 503: unavailable',
      lastErrorCategory: 'transient',
      lastErrorCode: 503,
    });
    // What the slot row stores and reads back: the category and code beside the text.
    expect(slotFromEntity(slotToEntity(released)).scan).toMatchObject({
      lastErrorCategory: 'transient',
      lastErrorCode: 503,
    });
    expect(released.scan?.lease).toBeUndefined();
    const reclaimed = decideClaim(released, newLease('run-b', T0 + MINUTE, MINUTE), T0 + MINUTE).write!;
    const done = decideComplete(reclaimed, progress('run-b'));
    expect(done.archive).toMatchObject({ scanId: 'scan-1', state: 'completed' });
    expect(done.write?.scan?.finishedAt).toBeDefined();
  });
});

describe('the schedule', () => {
  it('a fresh deployment starts counting at its first run, and scans at the next occurrence, not at once', () => {
    const first = decideSchedule(undefined, { scanId: 'scan-1', now: T0, schedule: daily });
    expect(first.result.outcome).toBe('anchored');
    expect(first.write).toEqual({ scheduleFrom: T0 });
    expect(
      decideSchedule(first.write, { scanId: 'scan-1', now: T0 + 30 * MINUTE, schedule: daily }).result.outcome,
    ).toBe('not-due');
    const due = decideSchedule(first.write, { scanId: 'scan-1', now: T0 + 65 * MINUTE, schedule: daily });
    expect(due.result).toMatchObject({ outcome: 'requested', scan: { trigger: 'schedule', scanId: 'scan-1' } });
  });

  it('the next scan is due at the first occurrence after the last one was requested', () => {
    const requested = decideRequest({ scheduleFrom: 0 }, { scanId: 'scan-1', trigger: 'on-demand', now: T0 }).write!;
    const completed = decideComplete(decideClaim(requested, newLease('r', T0, MINUTE), T0).write, progress('r')).write!;
    // 02:00 the same day is after the on-demand scan of 01:00: due then, and not before.
    expect(decideSchedule(completed, { scanId: 's2', now: T0 + 59 * MINUTE, schedule: daily }).result.outcome).toBe(
      'not-due',
    );
    expect(decideSchedule(completed, { scanId: 's2', now: T0 + 61 * MINUTE, schedule: daily }).result.outcome).toBe(
      'requested',
    );
    // Not while a scan runs.
    expect(decideSchedule(requested, { scanId: 's2', now: T0 + 2 * 86_400_000, schedule: daily }).result.outcome).toBe(
      'unfinished',
    );
  });
});

describe('counts and rows as stored', () => {
  it('adds counts key by key', () => {
    const base = addCounts(emptyCounts(), { checked: 3, byState: { eligible: 2, 'no-azure': 1 }, byReason: {} });
    const sum = addCounts(base, { checked: 1, byState: { eligible: 1 }, byReason: { other: 1 }, throttled: 2 });
    expect(sum).toMatchObject({
      checked: 4,
      byState: { eligible: 3, 'no-azure': 1 },
      byReason: { other: 1 },
      throttled: 2,
    });
  });

  it('a customer row reads back as written', () => {
    const record = row('c-1', {
      companyName: 'Fabrikam',
      state: 'not-eligible',
      reason: 'suspended-subscriptions',
      code: 900105,
      eligibility: { isEligible: false, reason: 'suspended', code: 900105 },
      failure: undefined,
    });
    expect(customerFromEntity(customerToEntity(record))).toEqual(record);
    const failed = row('c-2', {
      state: 'check-failed',
      eligibility: undefined,
      failure: { call: 'agreements', category: 'transient', error: 'HTTP 503', code: 800003 },
    });
    expect(customerFromEntity(customerToEntity(failed))).toEqual(failed);
  });

  it('a list too long for one property is cut to what fits, and the count kept', () => {
    const many = Array.from({ length: 1_000 }, (_, i) => ({ id: `subscription-${i}`, status: 'active' as const }));
    const packed = packList(many);
    expect(packed.length).toBeLessThanOrEqual(MAX_LIST_CHARS);
    const kept = JSON.parse(packed) as unknown[];
    expect(kept.length).toBeGreaterThan(100);
    expect(kept).toEqual(many.slice(0, kept.length));
    const entity = customerToEntity(row('c-3', { legacySubscriptions: many, legacyCount: many.length }));
    expect(customerFromEntity(entity).legacyCount).toBe(1_000);
  });

  it('the slot and a past scan read back; a stored cursor that cannot be followed fails the scan, never restarts it', () => {
    const slot = claimedBy('run-a');
    expect(slotFromEntity(slotToEntity(slot))).toEqual(slot);
    const past = pastScanToEntity(slot.scan!);
    expect(past.rowKey).toMatch(/^s!\d{16}!scan-1$/);
    const tampered = { ...slotToEntity(slot), cursor: JSON.stringify({ list: 'customers', uri: '', headers: {} }) };
    expect(slotFromEntity(tampered).scan).toMatchObject({ state: 'failed', lastError: /stored cursor is unreadable/ });
  });
});
