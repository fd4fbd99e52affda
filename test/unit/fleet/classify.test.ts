import fc from 'fast-check';
import { classify, customerRecord, needsEligibility } from '../../../shared/fleet/classify';
import {
  FLEET_STATES,
  NOT_ELIGIBLE_REASONS,
  type CustomerFacts,
  type LegacySubscription,
} from '../../../shared/fleet/records';

const CUSTOMER = '3f2c1d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f';
const legacy = (
  id: string,
  status: LegacySubscription['status'] = 'active',
  partnerId?: string,
): LegacySubscription => ({
  id,
  status,
  ...(partnerId ? { partnerId } : {}),
});
const plan = { id: 'plan-1', status: 'active' as const };

function facts(overrides: Partial<CustomerFacts> = {}): CustomerFacts {
  return { customerId: CUSTOMER, relationship: 'reseller', usage: 'legacy', agreement: 'attested', ...overrides };
}

describe('classify: what the facts mean, and the next step', () => {
  it('an advisor cannot be transacted on, whatever else is known', () => {
    const meaning = classify(facts({ relationship: 'advisor', usage: 'none' }));
    expect(meaning.state).toBe('advisor');
    expect(meaning.nextStep).toMatch(/reseller relationship must move it/);
  });

  it('no usage record: no Azure, nothing to move', () => {
    expect(classify(facts({ usage: 'none', agreement: 'not-checked' }))).toEqual({
      state: 'no-azure',
      nextStep: 'No Azure subscriptions: nothing to move.',
    });
  });

  it('an Azure plan with nothing left to move is on an Azure plan (no eligibility asked)', () => {
    const subscriptions = { legacy: [legacy('old-1', 'suspended')], azurePlans: [plan] };
    expect(needsEligibility(subscriptions)).toBe(false);
    expect(classify(facts({ usage: 'azure-plan', agreement: 'implied-by-azure-plan', subscriptions }))).toEqual({
      state: 'on-azure-plan',
      nextStep: 'Nothing to do: the customer is on an Azure plan.',
    });
  });

  it('an Azure plan with a legacy subscription still active must be asked (a partial upgrade, or one under way)', () => {
    expect(needsEligibility({ legacy: [legacy('a', 'suspended'), legacy('b')], azurePlans: [plan] })).toBe(true);
    expect(needsEligibility({ legacy: [legacy('a')], azurePlans: [] })).toBe(true);
    expect(needsEligibility({ legacy: [], azurePlans: [plan] })).toBe(false);
    expect(needsEligibility({ legacy: [legacy('gone', 'deleted')], azurePlans: [] })).toBe(false);
  });

  it('eligible: the next step names what moves, and to which resellers’ plans', () => {
    const subscriptions = {
      legacy: [legacy('a', 'active', '4812345'), legacy('b', 'active', '5923456'), legacy('c', 'active', '4812345')],
      azurePlans: [],
    };
    const meaning = classify(facts({ subscriptions, eligibility: { isEligible: true } }));
    expect(meaning).toEqual({
      state: 'eligible',
      nextStep:
        'Ready: start the upgrade; 3 legacy subscriptions move to one Azure plan per reseller of record (4812345 and 5923456).',
    });
    expect(
      classify(facts({ subscriptions: { legacy: [legacy('a')], azurePlans: [] }, eligibility: { isEligible: true } }))
        .nextStep,
    ).toBe('Ready: start the upgrade; 1 legacy subscription moves to an Azure plan.');
  });

  it('an upgrade Partner Center names is in progress, and tracked', () => {
    const meaning = classify(
      facts({
        subscriptions: { legacy: [legacy('a')], azurePlans: [] },
        eligibility: { isEligible: false, upgradeId: 'u-1' },
      }),
    );
    expect(meaning).toEqual({
      state: 'upgrade-in-progress',
      upgradeId: 'u-1',
      nextStep: 'Upgrade u-1 exists; the app tracks it to its end (GET /api/upgrades/u-1).',
    });
  });

  it('a suspended subscription blocks the move: the step names it and its reseller', () => {
    const subscriptions = {
      legacy: [{ ...legacy('sub-9', 'suspended', '4812345'), friendlyName: 'Dev' }, legacy('sub-1')],
      azurePlans: [],
    };
    const meaning = classify(
      facts({
        subscriptions,
        eligibility: {
          isEligible: false,
          reason: "The customer has suspended Azure subscriptions. They can't be moved to an Azure plan.",
        },
      }),
    );
    expect(meaning).toEqual({
      state: 'not-eligible',
      reason: 'suspended-subscriptions',
      nextStep:
        'Suspended subscription sub-9 "Dev" (reseller 4812345) blocks the move: reactivate or cancel it, then scan again.',
    });
    const several = classify(
      facts({
        subscriptions: { legacy: ['a', 'b', 'c', 'd'].map((id) => legacy(id, 'suspended')), azurePlans: [] },
        eligibility: { isEligible: false, reason: 'Some text Partner Center might send' },
      }),
    );
    expect(several).toMatchObject({ state: 'not-eligible', reason: 'suspended-subscriptions' });
    expect(several.nextStep).toBe(
      'Suspended subscriptions a, b, c and 1 more block the move: reactivate or cancel them, then scan again.',
    );
  });

  it('reads the reason from the refusal code first, then Partner Center’s words, then the facts', () => {
    const base = facts({ subscriptions: { legacy: [legacy('a')], azurePlans: [] } });
    const reasonOf = (eligibility: CustomerFacts['eligibility'], extra: Partial<CustomerFacts> = {}) => {
      const meaning = classify({ ...base, ...extra, eligibility });
      return meaning.state === 'not-eligible' ? { reason: meaning.reason, code: meaning.code } : meaning.state;
    };
    expect(reasonOf({ isEligible: false, code: 900130, reason: 'suspended' })).toEqual({
      reason: 'bought-recently',
      code: 900130,
    });
    expect(reasonOf({ isEligible: false, code: 20002 })).toEqual({ reason: 'no-relationship', code: 20002 });
    expect(
      reasonOf({
        isEligible: false,
        reason: 'The customer has not accepted the Microsoft Customer Agreement, which an Azure plan requires.',
      }),
    ).toEqual({
      reason: 'no-customer-agreement',
    });
    expect(
      reasonOf({ isEligible: false, reason: 'The customer is an Azure Partner Shared Services customer.' }),
    ).toEqual({
      reason: 'partner-shared-services',
    });
    expect(reasonOf({ isEligible: false, reason: 'The customer purchased Azure subscriptions recently.' })).toEqual({
      reason: 'bought-recently',
    });
    expect(reasonOf({ isEligible: false, reason: 'The customer does not have any Azure subscriptions.' })).toEqual({
      reason: 'no-azure-subscriptions',
    });
    // Words Partner Center never documented: the facts explain it.
    expect(reasonOf({ isEligible: false, reason: 'Not possible.' }, { agreement: 'not-attested' })).toEqual({
      reason: 'no-customer-agreement',
    });
    expect(reasonOf({ isEligible: false, reason: 'Not possible.' })).toEqual({ reason: 'other' });
  });

  it('every reason has a next step an operator can act on, quoting Partner Center where it spoke', () => {
    const base = facts({ subscriptions: { legacy: [legacy('a')], azurePlans: [] } });
    const codes: Record<string, number | undefined> = { 'no-relationship': 20002 };
    const words: Record<string, string> = {
      'suspended-subscriptions': 'suspended',
      'no-customer-agreement': 'Customer Agreement missing',
      'bought-recently': 'bought recently',
      'partner-shared-services': 'Shared Services',
      'no-azure-subscriptions': 'does not have any Azure subscriptions',
      'no-relationship': 'no relationship',
      other: 'Mystery refusal 42',
    };
    for (const reason of NOT_ELIGIBLE_REASONS) {
      const meaning = classify({
        ...base,
        eligibility: { isEligible: false, reason: words[reason], ...(codes[reason] ? { code: codes[reason] } : {}) },
      });
      expect({
        reason,
        state: meaning.state,
        ...(meaning.state === 'not-eligible' ? { got: meaning.reason } : {}),
      }).toEqual({
        reason,
        state: 'not-eligible',
        got: reason,
      });
      expect(meaning.nextStep.length).toBeGreaterThan(20);
    }
    expect(classify({ ...base, eligibility: { isEligible: false, reason: 'Mystery refusal 42' } }).nextStep).toBe(
      'Partner Center refuses the move: "Mystery refusal 42". Resolve it in Partner Center, then scan again.',
    );
  });

  it('a call that failed makes check-failed, naming the call and its error', () => {
    const meaning = classify(
      facts({ failure: { call: 'subscriptions', category: 'transient', error: 'transient HTTP 503: busy' } }),
    );
    expect(meaning).toEqual({
      state: 'check-failed',
      nextStep:
        "Partner Center's subscriptions call failed (transient HTTP 503: busy); the next scan checks this customer again.",
    });
  });

  it('for any facts: a known state, a next step, and a row that carries the state, reason and upgrade', () => {
    const status = fc.constantFrom('active', 'suspended', 'deleted', 'pending', 'unknown' as const);
    const sub = fc.record({
      id: fc.uuid(),
      status,
      partnerId: fc.option(fc.constantFrom('4812345', '5923456'), { nil: undefined }),
    });
    const arbitraryFacts = fc.record({
      customerId: fc.uuid(),
      relationship: fc.option(fc.constantFrom('reseller', 'advisor', 'Reseller', 'other'), { nil: undefined }),
      usage: fc.constantFrom('none', 'legacy', 'azure-plan' as const),
      subscriptions: fc.option(
        fc.record({ legacy: fc.array(sub, { maxLength: 6 }), azurePlans: fc.array(sub, { maxLength: 2 }) }),
        { nil: undefined },
      ),
      agreement: fc.constantFrom('attested', 'not-attested', 'implied-by-azure-plan', 'not-checked' as const),
      eligibility: fc.option(
        fc.record({
          isEligible: fc.boolean(),
          reason: fc.option(fc.string(), { nil: undefined }),
          code: fc.option(fc.constantFrom(900105, 900108, 900119, 900120, 900130, 20002), { nil: undefined }),
          upgradeId: fc.option(fc.uuid(), { nil: undefined }),
        }),
        { nil: undefined },
      ),
      failure: fc.option(
        fc.record({
          call: fc.constantFrom('subscriptions', 'eligibility' as const),
          category: fc.constant('transient'),
          error: fc.string(),
        }),
        { nil: undefined },
      ),
    });
    fc.assert(
      fc.property(arbitraryFacts, (input) => {
        const clean = JSON.parse(JSON.stringify(input)) as CustomerFacts;
        const meaning = classify(clean);
        expect(FLEET_STATES).toContain(meaning.state);
        expect(meaning.nextStep.trim()).not.toBe('');
        const row = customerRecord(clean, { scanId: 's', page: 0, scannedAt: '2026-03-01T00:00:00.000Z' });
        expect(row.state).toBe(meaning.state);
        expect(row.reason).toBe(meaning.state === 'not-eligible' ? meaning.reason : undefined);
        expect(row.upgradeId).toBe(meaning.state === 'upgrade-in-progress' ? meaning.upgradeId : undefined);
        expect(row.legacyCount).toBe(clean.subscriptions?.legacy.length ?? 0);
        // An advisor is never anything else; a customer Partner Center says may move is eligible or has an upgrade.
        if (clean.relationship?.toLowerCase() === 'advisor') expect(meaning.state).toBe('advisor');
        else if (clean.failure) expect(meaning.state).toBe('check-failed');
        else if (clean.eligibility?.upgradeId) expect(meaning.state).toBe('upgrade-in-progress');
      }),
    );
  });
});
