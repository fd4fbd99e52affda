import type { HostJsonOverrides } from '../../../dev/host';
import { steppedClock, type CustomerSpec, type SteppedClock } from '../../../dev/simulator';
import { startHostedStack, type BillingReceiver, type HostedStack } from '../../../dev/stack';

/**
 * The whole app end to end for callback tests, on the one local stack (its own Azurite: the real app's queue names
 * are fixed, so a shared one would let other test files' hosts take our messages): the Partner Center simulator on a
 * stepped clock, a billing receiver that verifies every signature, and the real app in the local host with its
 * telemetry recorded.
 */

export interface HarnessOptions {
  customers: CustomerSpec[];
  callbackSecret: string;
  settings?: Record<string, string>;
  /** Secrets the simulator accepts (default: generated). */
  simulatorCredentials?: { clientSecret?: string; refreshToken?: string };
  /** Put in front of the simulator's token endpoint (the leak test records minted tokens there). */
  authorityHost?: (simulatorUrl: string) => Promise<string>;
  /** WEBHOOK_SIGNING_SECRET (default: the stack's random one). */
  webhookSecret?: string;
  /** Forward telemetry to the app's console telemetry too (default: recorded only, keeping test output quiet). */
  consoleTelemetry?: boolean;
  log?: (line: string) => void;
  hostJson?: HostJsonOverrides;
}

export interface Harness extends HostedStack {
  clock: SteppedClock;
  receiver: BillingReceiver;
  /** POST /api/upgrades (signed, with a fresh webhook-id); returns the upgrade id. */
  startUpgrade(customerId: string): Promise<string>;
  /** One poll run through the admin API, like an operator starts one; resolves when it has ended. */
  triggerPoll(): Promise<void>;
}

/** A message whose invocation fails is retried at once (visibility timeout 0), so retries take no wall time. */
export const QUICK_QUEUES: HostJsonOverrides = {
  extensions: { queues: { maxPollingInterval: '00:00:00.200', visibilityTimeout: '00:00:00' } },
};

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const clock = steppedClock(Date.now());
  const stack = await startHostedStack({
    simulator: {
      clock,
      scenario: {
        name: 'callbacks',
        durations: { pendingSeconds: 5, inProgressSeconds: 5 },
        customers: options.customers,
      },
      credentials: options.simulatorCredentials,
    },
    authorityHost: options.authorityHost,
    tablePrefix: 'cb',
    webhookSecret: options.webhookSecret,
    billing: { secret: options.callbackSecret },
    consoleTelemetry: options.consoleTelemetry,
    log: options.log,
    hostJson: options.hostJson ?? QUICK_QUEUES,
    settings: {
      PARTNER_CENTER_TIMEOUT_SECONDS: '5',
      CALLBACK_TIMEOUT_SECONDS: '5',
      CALLBACK_MAX_ATTEMPTS: '3',
      CALLBACK_RETRY_BASE_SECONDS: '1',
      POLL_FIRST_DELAY_SECONDS: '0',
      POLL_MIN_INTERVAL_SECONDS: '1',
      POLL_MAX_INTERVAL_SECONDS: '2',
      ...options.settings,
    },
  });
  return {
    ...stack,
    clock,
    receiver: stack.receiver!,
    async startUpgrade(customerId) {
      const response = await stack.post('/upgrades', { customerId, productFamily: 'Azure' });
      if (response.status !== 202) throw new Error(`POST /api/upgrades answered ${response.status}: ${response.text}`);
      return (response.body as { upgradeId: string }).upgradeId;
    },
    async triggerPoll() {
      await stack.runByAdmin('pollUpgrades');
    },
  };
}

/** A customer id for the simulator scenario (GUID, lower case). */
export function customerId(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}
