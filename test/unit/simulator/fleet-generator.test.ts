import {
  FLEET_MIX,
  UPGRADE_MIX,
  generateFleetScenario,
  generateScenario,
  startSimulator,
  steppedClock,
  type CustomerSpec,
  type CustomerTruth,
  type RunningSimulator,
} from '../../../dev/simulator';
import { accessToken, collection, json, pc, pcGet } from './helpers';

const kindOf = (c: CustomerSpec): string =>
  c.relationship === 'advisor'
    ? 'advisor'
    : c.existingUpgrade === 'completed'
      ? 'onAzurePlan'
      : c.existingUpgrade === 'running'
        ? 'upgradeRunning'
        : (c.ineligibleReason ?? 'eligible');

describe('the fleet generator', () => {
  it('honours the realistic mix exactly, deterministically by seed, with stable ids', () => {
    const a = generateFleetScenario({ customers: 2_000, seed: 9 });
    expect(JSON.stringify(generateFleetScenario({ customers: 2_000, seed: 9 }))).toBe(JSON.stringify(a));
    expect(generateFleetScenario({ customers: 2_000, seed: 10 }).customers[0].id).not.toBe(a.customers[0].id);
    expect(new Set(a.customers.map((c) => c.id)).size).toBe(2_000);
    const counts: Record<string, number> = {};
    for (const c of a.customers) counts[kindOf(c)] = (counts[kindOf(c)] ?? 0) + 1;
    expect(counts).toEqual(
      Object.fromEntries(Object.entries(FLEET_MIX).map(([kind, share]) => [kind, Math.round(share * 2_000)])),
    );
    // Resellers of record: about a third of the customers with Azure, some with several; never for those without.
    const indirect = a.customers.filter((c) => c.resellers);
    expect(indirect.length).toBeGreaterThan(300);
    expect(indirect.filter((c) => c.resellers!.length > 1).length).toBeGreaterThan(20);
    for (const c of indirect) {
      expect(['noAzureSubscriptions', 'advisor']).not.toContain(kindOf(c));
      expect(c.legacySubscriptions).toBeGreaterThanOrEqual(c.resellers!.length);
    }
    expect(
      a.customers.filter((c) => kindOf(c) === 'noAzureSubscriptions').every((c) => c.otherSubscriptions! >= 1),
    ).toBe(true);
  });

  it('the product-upgrade default is unchanged: reseller customers on legacy Azure only, no fleet fields', () => {
    const scenario = generateScenario({ customers: 1_000, seed: 3 });
    expect(UPGRADE_MIX).toMatchObject({ onAzurePlan: 0, upgradeRunning: 0, advisor: 0, noCustomerAgreement: 0 });
    for (const c of scenario.customers) {
      expect(c).not.toHaveProperty('relationship');
      expect(c).not.toHaveProperty('existingUpgrade');
      expect(c).not.toHaveProperty('resellers');
      expect(c).not.toHaveProperty('otherSubscriptions');
    }
  });

  it('10,000 customers generate and load; the ground truth of each kind is what its kind says', async () => {
    const scenario = generateFleetScenario({ customers: 10_000, seed: 1 });
    const sim = await startSimulator({ port: 0, scenario, clock: steppedClock('2026-03-01T00:00:00Z') });
    try {
      expect(sim.state.customerCount).toBe(10_000);
      const summary = sim.state.fleetSummary();
      expect(summary).toMatchObject({ customers: 10_000, advisors: 400, onAzurePlan: 4_000, eligible: 2_500 });
      expect(summary.byReason).toEqual({
        alreadyUpgraded: 4_000,
        noAzureSubscriptions: 1_500,
        suspendedSubscriptions: 400,
        noCustomerAgreement: 500,
        advisorRelationship: 400,
        upgradeInProgress: 300,
        boughtRecently: 300,
        azurePartnerSharedServices: 100,
      });
    } finally {
      await sim.close();
    }
  });
});

describe('one customer model: what the routes answer is the ground truth', () => {
  let sim: RunningSimulator;
  let token: string;
  beforeAll(async () => {
    sim = await startSimulator({
      port: 0,
      scenario: generateFleetScenario({ customers: 300, seed: 21 }),
      clock: steppedClock('2026-03-01T00:00:00Z'),
    });
    token = await accessToken(sim);
  });
  afterAll(() => sim.close());

  it('subscriptions, agreements, usage records and eligibility of 300 generated customers match their truth', async () => {
    const truths = sim.state.customerTruths(0, 300);
    expect(truths).toHaveLength(300);
    const usage = await collection(await pcGet(sim, '/v1/customers/usagerecords?size=500', { token }));
    const upgraded = new Map(usage.items.map((r) => [r.id as string, r.isUpgraded as boolean]));
    const mismatches: string[] = [];
    const check = (truth: CustomerTruth, what: string, actual: unknown, expected: unknown): void => {
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        mismatches.push(`${truth.id} ${what}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`);
      }
    };
    for (const truth of truths) {
      const eligibility = await pc(
        sim,
        '/v1/productUpgrades/eligibility',
        { customerId: truth.id, productFamily: 'Azure' },
        { token },
      );
      const subs = await pcGet(sim, `/v1/customers/${truth.id}/subscriptions`, { token });
      const agreements = await pcGet(
        sim,
        `/v1/customers/${truth.id}/agreements?agreementType=MicrosoftCustomerAgreement`,
        { token },
      );
      if (truth.relationship === 'advisor') {
        check(truth, 'statuses', [eligibility.status, subs.status, agreements.status], [403, 403, 403]);
        check(truth, 'usage record', upgraded.has(truth.id), false);
        continue;
      }
      const answer = await json(eligibility);
      check(truth, 'isEligible', answer.isEligible, truth.eligibility.isEligible);
      check(truth, 'upgradeId', answer.upgradeId, truth.eligibility.upgradeId);
      const items = (await collection(subs)).items;
      const legacy = items
        .filter((s) => s.offerId === 'MS-AZR-0145P')
        .map((s) => ({
          id: s.id,
          entitlementId: s.entitlementId,
          status: s.status,
          ...(s.partnerId ? { partnerId: s.partnerId } : {}),
        }));
      check(truth, 'legacy subscriptions', legacy, truth.legacySubscriptions);
      check(
        truth,
        'plans',
        items.filter((s) => String(s.offerId).startsWith('DZH318Z0BPS6')).length,
        truth.azurePlans.length,
      );
      check(truth, 'agreement', (await collection(agreements)).items.length === 1, truth.agreementAttested);
      check(
        truth,
        'usage record',
        upgraded.get(truth.id),
        legacy.length > 0 || truth.onAzurePlan ? truth.onAzurePlan : undefined,
      );
    }
    expect(mismatches).toEqual([]);
  });
});
