/** Customers of the simulator's default scenario (dev/simulator/generator.ts `defaultScenario`), by kind. */
function fixed(index: number): string {
  return `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
}

/** Eligible, one subscription, the upgrade completes (customers 1–12). */
export const eligible = (n: number): string => fixed(n);
/** Eligible, the upgrade fails (customers 21–23). */
export const failing = (n: number): string => fixed(20 + n);

/** Not eligible, with the Partner Center code the simulator refuses a create with. */
export const INELIGIBLE = [
  { kind: 'suspended subscriptions', customerId: fixed(27), code: 900105, reason: /suspended Azure subscriptions/ },
  {
    kind: 'no Azure subscriptions',
    customerId: fixed(29),
    code: 900108,
    reason: /does not have any Azure subscriptions/,
  },
  { kind: 'Azure Partner Shared Services', customerId: fixed(31), code: 900119, reason: /Partner Shared Services/ },
  { kind: 'bought recently', customerId: fixed(33), code: 900130, reason: /purchased Azure subscriptions recently/ },
] as const;

/** A well-formed customer id the simulator has no reseller relationship with (403 20002). */
export const UNKNOWN_CUSTOMER = '7e57c0de-0000-4000-8000-000000000999';
