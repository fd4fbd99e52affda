import { createPrng, type Prng } from './prng';
import {
  DEFAULT_CLIENT_ID,
  DEFAULT_TENANT_ID,
  type CustomerSpec,
  type DurationSpec,
  type Scenario,
  type UpgradeOutcome,
} from './scenario';

/** Share of customers per kind; normalized, so any positive weights work. Given, it replaces the default mix. */
export interface CustomerMix {
  /** Legacy subscriptions, eligible: an upgrade can be started. */
  eligible?: number;
  suspendedSubscriptions?: number;
  /** No Azure at all (other offers only). */
  noAzureSubscriptions?: number;
  azurePartnerSharedServices?: number;
  boughtRecently?: number;
  /** Legacy subscriptions, but no attested Microsoft Customer Agreement. */
  noCustomerAgreement?: number;
  /** Upgraded before the scenario starts: an Azure plan, the legacy subscriptions suspended. */
  onAzurePlan?: number;
  /** An upgrade already running at the start. */
  upgradeRunning?: number;
  /** An advisor relationship: listed, but nothing can be transacted. */
  advisor?: number;
}

/** Resellers of record (indirect model) for customers with Azure. */
export interface ResellerMix {
  /** Share of customers with Azure whose subscriptions belong to resellers. */
  share: number;
  /** Of those, the share with two or three resellers of record. */
  severalShare: number;
  /** How many distinct resellers the partner works with. */
  pool: number;
}

/** Share of eligible customers per outcome. */
export interface OutcomeMix {
  Completed?: number;
  Failed?: number;
  PartiallyFailed?: number;
}

export interface GenerateOptions {
  customers: number;
  seed?: number;
  mix?: CustomerMix;
  outcomes?: OutcomeMix;
  /** Legacy subscriptions per customer, uniform in [min, max]. Default [1, 5]. */
  legacySubscriptions?: { min: number; max: number };
  /** Simulated seconds, uniform in the ranges. Default pending [30, 300], in progress [300, 3600]. */
  pendingSeconds?: { min: number; max: number };
  inProgressSeconds?: { min: number; max: number };
  speed?: number;
  name?: string;
  /** Resellers of record; default none (every subscription the direct partner's own). */
  resellers?: ResellerMix;
  /** Subscriptions of other offers per customer, uniform in [min, max]; default none. */
  otherSubscriptions?: { min: number; max: number };
}

/** The product-upgrade mix (generateScenario's default): every customer a reseller customer still on legacy Azure. */
export const UPGRADE_MIX: Required<CustomerMix> = {
  eligible: 0.8,
  suspendedSubscriptions: 0.05,
  noAzureSubscriptions: 0.05,
  azurePartnerSharedServices: 0.05,
  boughtRecently: 0.05,
  noCustomerAgreement: 0,
  onAzurePlan: 0,
  upgradeRunning: 0,
  advisor: 0,
};

/**
 * A partner's whole customer base late in the transition (generateFleetScenario's default): most customers with
 * Azure already on an Azure plan, a quarter still legacy and eligible, many with no Azure at all, and the cases a
 * scan must explain.
 */
export const FLEET_MIX: Required<CustomerMix> = {
  onAzurePlan: 0.4,
  eligible: 0.25,
  noAzureSubscriptions: 0.15,
  suspendedSubscriptions: 0.04,
  noCustomerAgreement: 0.05,
  advisor: 0.04,
  upgradeRunning: 0.03,
  boughtRecently: 0.03,
  azurePartnerSharedServices: 0.01,
};

export const DEFAULT_RESELLERS: ResellerMix = { share: 0.3, severalShare: 0.15, pool: 12 };
const DEFAULT_OUTCOMES: Required<OutcomeMix> = { Completed: 0.85, Failed: 0.05, PartiallyFailed: 0.1 };
// Key order matters: quotas() walks the keys in this order, so a mix of the first five kinds draws exactly as it
// did before the fleet kinds existed (same seed, same scenario).
const ZERO_MIX: Required<CustomerMix> = {
  eligible: 0,
  suspendedSubscriptions: 0,
  noAzureSubscriptions: 0,
  azurePartnerSharedServices: 0,
  boughtRecently: 0,
  noCustomerAgreement: 0,
  onAzurePlan: 0,
  upgradeRunning: 0,
  advisor: 0,
};
const ZERO_OUTCOMES: Required<OutcomeMix> = { Completed: 0, Failed: 0, PartiallyFailed: 0 };

/**
 * Exact quotas per kind (largest remainder), then a seeded shuffle: every kind with a positive share appears as
 * soon as the count allows, and the same seed gives the same scenario.
 */
function quotas<K extends string>(weights: Record<K, number>, count: number, prng: Prng): K[] {
  const keys = (Object.keys(weights) as K[]).filter((key) => weights[key] > 0);
  const total = keys.reduce((sum, key) => sum + weights[key], 0);
  if (total <= 0) throw new RangeError('a mix needs at least one positive weight');
  const exact = keys.map((key) => (weights[key] / total) * count);
  const counts = exact.map(Math.floor);
  let missing = count - counts.reduce((a, b) => a + b, 0);
  const byRemainder = keys.map((_, i) => i).sort((a, b) => exact[b] - counts[b] - (exact[a] - counts[a]));
  for (const i of byRemainder) {
    if (missing-- <= 0) break;
    counts[i]++;
  }
  const list: K[] = [];
  keys.forEach((key, i) => {
    for (let n = 0; n < counts[i]; n++) list.push(key);
  });
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(prng.next() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  return list;
}

const FAILURE_DETAILS = [
  { code: 'SubscriptionTransferFailed', description: 'The Azure subscription could not be moved to the Azure plan.' },
  // The docs' spelling ({code, message}) so clients are exercised on both.
  { code: 'InternalError', message: 'An internal error occurred while upgrading the subscription.' },
];

/**
 * A deterministic scenario of `customers` customers (10,000 and more is fine). The default mix is the
 * product-upgrade one; generateFleetScenario() gives a whole customer base.
 */
export function generateScenario(options: GenerateOptions): Scenario {
  const seed = options.seed ?? 1;
  const prng = createPrng(seed);
  // Reseller and other-offer draws come from a stream of their own, so they never shift the draws above.
  const extras = createPrng((seed ^ 0x9e3779b9) >>> 0);
  const resellerPool = options.resellers
    ? Array.from({ length: Math.max(1, options.resellers.pool) }, () => String(extras.int(1_000_000, 9_999_999)))
    : [];
  const legacy = options.legacySubscriptions ?? { min: 1, max: 5 };
  const pending = options.pendingSeconds ?? { min: 30, max: 300 };
  const inProgress = options.inProgressSeconds ?? { min: 300, max: 3600 };
  // A given mix replaces the default one: kinds it leaves out get no customers.
  const kinds = quotas({ ...ZERO_MIX, ...(options.mix ?? UPGRADE_MIX) }, options.customers, prng);
  const eligibleCount = kinds.filter((kind) => kind === 'eligible').length;
  const outcomes = quotas({ ...ZERO_OUTCOMES, ...(options.outcomes ?? DEFAULT_OUTCOMES) }, eligibleCount, prng);
  let nextOutcome = 0;
  const customers: CustomerSpec[] = kinds.map((kind, index) => {
    const legacySubscriptions = prng.int(legacy.min, legacy.max);
    const durations: DurationSpec = {
      pendingSeconds: prng.int(pending.min, pending.max),
      inProgressSeconds: prng.int(inProgress.min, inProgress.max),
    };
    const customer: CustomerSpec = {
      id: prng.guid(),
      name: `Customer ${String(index + 1).padStart(5, '0')}`,
      legacySubscriptions,
      durations,
    };
    addExtras(customer, kind, options, extras, resellerPool);
    switch (kind) {
      case 'eligible':
        break;
      case 'onAzurePlan':
        customer.existingUpgrade = 'completed';
        customer.outcome = 'Completed';
        return customer;
      case 'upgradeRunning':
        customer.existingUpgrade = 'running';
        customer.outcome = 'Completed';
        return customer;
      case 'advisor':
        customer.relationship = 'advisor';
        return customer;
      default:
        customer.ineligibleReason = kind;
        return customer;
    }
    const outcome: UpgradeOutcome = outcomes[nextOutcome++] ?? 'Completed';
    customer.outcome = outcome;
    if (outcome === 'PartiallyFailed') {
      // A partial failure needs one success and one failure at least.
      customer.legacySubscriptions = Math.max(2, customer.legacySubscriptions ?? legacySubscriptions);
      customer.failedLineItems = prng.int(1, customer.legacySubscriptions - 1);
    }
    if (outcome !== 'Completed') customer.errorDetails = FAILURE_DETAILS[index % FAILURE_DETAILS.length];
    return customer;
  });
  return {
    name: options.name ?? `generated-${options.customers}-seed-${seed}`,
    seed,
    speed: options.speed ?? 1,
    partner: { tenantId: DEFAULT_TENANT_ID, clientId: DEFAULT_CLIENT_ID, domain: 'contoso-partner.onmicrosoft.com' },
    customers,
  };
}

/** Resellers of record and other offers, from their own PRNG stream (see generateScenario). */
function addExtras(
  customer: CustomerSpec,
  kind: keyof CustomerMix,
  options: GenerateOptions,
  extras: Prng,
  resellerPool: string[],
): void {
  const other = options.otherSubscriptions;
  if (other) {
    // A customer with no Azure at all holds something else, or it would not be a customer.
    const count = extras.int(other.min, other.max);
    const atLeast = kind === 'noAzureSubscriptions' ? Math.max(1, count) : count;
    if (atLeast > 0) customer.otherSubscriptions = atLeast;
  }
  const resellers = options.resellers;
  if (!resellers || kind === 'noAzureSubscriptions' || kind === 'advisor') return;
  const indirect = extras.next() < resellers.share;
  const several = extras.next() < resellers.severalShare;
  if (!indirect) return;
  const count = several ? extras.int(2, 3) : 1;
  const chosen = new Set<string>();
  while (chosen.size < Math.min(count, resellerPool.length)) {
    chosen.add(resellerPool[extras.int(0, resellerPool.length - 1)]);
  }
  customer.resellers = [...chosen];
  // Every reseller of record holds at least one subscription.
  customer.legacySubscriptions = Math.max(customer.legacySubscriptions ?? 1, chosen.size);
}

/**
 * A whole customer base: FLEET_MIX, resellers of record for about a third of the customers with Azure (several for
 * some), zero to three subscriptions of other offers each. Deterministic by seed; ids are stable.
 */
export function generateFleetScenario(options: GenerateOptions): Scenario {
  return generateScenario({
    mix: FLEET_MIX,
    resellers: DEFAULT_RESELLERS,
    otherSubscriptions: { min: 0, max: 3 },
    name: `fleet-${options.customers}-seed-${options.seed ?? 1}`,
    ...options,
  });
}

function fixed(index: number): string {
  // Readable, stable ids for the default scenario: 00000000-0000-4000-8000-0000000000NN.
  return `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
}

/**
 * A few dozen customers of every kind, with stable ids and short durations (Pending 10 s, InProgress 50 s at speed 1)
 * so a curl session sees an upgrade complete within a minute.
 */
export function defaultScenario(): Scenario {
  const customers: CustomerSpec[] = [];
  let n = 0;
  const add = (count: number, name: string, spec: Omit<CustomerSpec, 'id' | 'name'>): void => {
    for (let i = 1; i <= count; i++) {
      n++;
      customers.push({ id: fixed(n), name: `${name} ${i}`, ...spec });
    }
  };
  add(12, 'Eligible, one subscription', { legacySubscriptions: 1, outcome: 'Completed' });
  add(6, 'Eligible, several subscriptions', { legacySubscriptions: 3, outcome: 'Completed' });
  add(2, 'Eligible, slow upgrade', {
    legacySubscriptions: 2,
    outcome: 'Completed',
    durations: { pendingSeconds: 60, inProgressSeconds: 600 },
  });
  add(3, 'Upgrade fails', { legacySubscriptions: 2, outcome: 'Failed', errorDetails: FAILURE_DETAILS[0] });
  add(3, 'Upgrade partly fails', {
    legacySubscriptions: 4,
    outcome: 'PartiallyFailed',
    failedLineItems: 1,
    errorDetails: FAILURE_DETAILS[1],
  });
  add(2, 'Suspended subscriptions', { ineligibleReason: 'suspendedSubscriptions' });
  add(2, 'No Azure subscriptions', { ineligibleReason: 'noAzureSubscriptions', legacySubscriptions: 1 });
  add(2, 'Azure Partner Shared Services', { ineligibleReason: 'azurePartnerSharedServices' });
  add(2, 'Bought recently', { ineligibleReason: 'boughtRecently' });
  return {
    name: 'default',
    description: 'A few dozen customers of every kind; upgrades take about a minute at speed 1.',
    seed: 1,
    speed: 1,
    partner: { tenantId: DEFAULT_TENANT_ID, clientId: DEFAULT_CLIENT_ID, domain: 'contoso-partner.onmicrosoft.com' },
    durations: { pendingSeconds: 10, inProgressSeconds: 50 },
    customers,
  };
}
