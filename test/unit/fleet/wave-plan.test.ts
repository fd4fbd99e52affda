import type { FleetCustomerRecord, FleetState, NotEligibleReason } from '../../../shared/fleet/records';
import { planWave } from '../../../shared/fleet/wave-plan';

const id = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const OTHER_WAVE = '0b5c1f5e-0000-4000-8000-00000000000b';

function row(
  n: number,
  state: FleetState,
  extra: { reason?: NotEligibleReason; code?: number; upgradeId?: string; resellers?: string[] } = {},
): FleetCustomerRecord {
  return {
    customerId: id(n),
    companyName: `Customer ${n}`,
    usage: 'legacy',
    subscriptionsRead: true,
    legacySubscriptions: [],
    legacyCount: 0,
    azurePlans: [],
    resellers: extra.resellers ?? [],
    agreement: 'attested',
    state,
    ...(extra.reason ? { reason: extra.reason } : {}),
    ...(extra.code ? { code: extra.code } : {}),
    ...(extra.upgradeId ? { upgradeId: extra.upgradeId } : {}),
    nextStep: `next step of ${n}`,
    scanId: 'scan',
    scanPage: 0,
    scannedAt: '2026-05-01T02:00:00.000Z',
  };
}

function rowsOf(...rows: FleetCustomerRecord[]): Map<string, FleetCustomerRecord> {
  return new Map(rows.map((r) => [r.customerId, r]));
}

describe('planning a wave from explicit customers', () => {
  const rows = rowsOf(
    row(1, 'eligible'),
    row(2, 'not-eligible', { reason: 'suspended-subscriptions', code: 900105 }),
    row(3, 'upgrade-in-progress', { upgradeId: 'u-3' }),
    row(4, 'eligible'),
    row(5, 'advisor'),
  );

  it('moves the eligible ones, in the order asked, and says why every other one is left out', () => {
    const plan = planWave(
      { kind: 'customers', customerIds: [id(4), id(2), id(9), id(1), id(3), id(5), id(6)] },
      rows,
      new Map([[id(6), OTHER_WAVE]]),
    );
    expect(plan.members).toEqual([
      { customerId: id(4), companyName: 'Customer 4' },
      { customerId: id(1), companyName: 'Customer 1' },
    ]);
    expect(plan.excluded).toEqual([
      {
        customerId: id(2),
        state: 'not-eligible',
        reason: 'suspended-subscriptions',
        code: 900105,
        nextStep: 'next step of 2',
        scannedAt: '2026-05-01T02:00:00.000Z',
      },
      {
        customerId: id(9),
        state: 'unknown-customer',
        nextStep: expect.stringMatching(/The last completed scan did not list this customer/),
      },
      {
        customerId: id(3),
        state: 'upgrade-in-progress',
        upgradeId: 'u-3',
        nextStep: 'next step of 3',
        scannedAt: '2026-05-01T02:00:00.000Z',
      },
      { customerId: id(5), state: 'advisor', nextStep: 'next step of 5', scannedAt: '2026-05-01T02:00:00.000Z' },
      {
        customerId: id(6),
        state: 'in-another-wave',
        waveId: OTHER_WAVE,
        nextStep: expect.stringContaining(`/api/fleet/waves/${OTHER_WAVE}`),
      },
    ]);
    expect(plan.selection).toEqual({ kind: 'customers', count: 7 });
    expect(plan.notSelected).toBe(0);
  });

  it('an eligible customer another wave has not settled is left out, whatever the scan says', () => {
    const plan = planWave({ kind: 'customers', customerIds: [id(1)] }, rows, new Map([[id(1), OTHER_WAVE]]));
    expect(plan.members).toEqual([]);
    expect(plan.excluded).toMatchObject([{ customerId: id(1), state: 'in-another-wave', waveId: OTHER_WAVE }]);
  });
});

describe('planning a wave from a selection', () => {
  it('takes the eligible customers in customer id order up to the limit, and counts the rest', () => {
    const rows = rowsOf(
      row(5, 'eligible'),
      row(1, 'eligible'),
      row(3, 'eligible'),
      row(2, 'no-azure'),
      row(4, 'eligible'),
    );
    const plan = planWave({ kind: 'select', state: 'eligible', limit: 2 }, rows, new Map([[id(3), OTHER_WAVE]]));
    expect(plan.members.map((m) => m.customerId)).toEqual([id(1), id(4)]);
    expect(plan.notSelected).toBe(1);
    // Rows of other states are not part of a selection: nothing to explain about them.
    expect(plan.excluded).toMatchObject([{ customerId: id(3), state: 'in-another-wave' }]);
    expect(plan.selection).toEqual({ kind: 'select', state: 'eligible', limit: 2 });
  });

  it('of one reseller of record, when asked', () => {
    const rows = rowsOf(
      row(1, 'eligible', { resellers: ['4812345'] }),
      row(2, 'eligible', { resellers: ['5923456', '4812345'] }),
      row(3, 'eligible', { resellers: ['5923456'] }),
      row(4, 'eligible'),
    );
    const plan = planWave({ kind: 'select', state: 'eligible', resellerMpnId: '4812345', limit: 200 }, rows, new Map());
    expect(plan.members.map((m) => m.customerId)).toEqual([id(1), id(2)]);
    expect(plan.selection).toEqual({ kind: 'select', state: 'eligible', resellerMpnId: '4812345', limit: 200 });
  });

  it('never takes more than 200, whatever limit it is given', () => {
    const rows = rowsOf(...Array.from({ length: 230 }, (_, i) => row(i + 1, 'eligible')));
    const plan = planWave({ kind: 'select', state: 'eligible', limit: 500 }, rows, new Map());
    expect(plan.members).toHaveLength(200);
    expect(plan.notSelected).toBe(30);
  });
});
