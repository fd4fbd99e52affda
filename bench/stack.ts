import { startAzurite, type RunningAzurite } from '../dev/azurite';
import type { RunningSimulator } from '../dev/simulator';
import { loadConfig, type AppConfig } from '../shared/config';
import { CachedSecretStore, EnvironmentSecretStore } from '../shared/secrets';
import { createServices, type Services } from '../shared/services';
import { noTelemetry } from '../shared/telemetry/telemetry';
import { Tables } from '../shared/storage/tables';
import { newUpgradeRecord, startedRecord } from '../shared/tracking/start-tracking';
import { seedTrackingTable } from '../dev/tracking-seed';

/** Placeholder signing secret for the benchmark's local host; not a real secret. */
export const BENCH_SIGNING_SECRET = 'bench-webhook-signing-secret-local-only';

/** The app settings pointing the app at the local Azurite and simulator (loopback only). */
export function appSettings(
  azurite: Pick<RunningAzurite, 'connectionString'>,
  sim: Pick<RunningSimulator, 'url' | 'credentials'>,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    AzureWebJobsStorage: azurite.connectionString,
    PARTNER_CENTER_API_URL: sim.url,
    PARTNER_CENTER_AUTHORITY_HOST: sim.url,
    PARTNER_CENTER_TENANT_ID: sim.credentials.tenantId,
    PARTNER_CENTER_CLIENT_ID: sim.credentials.clientId,
    PARTNER_CENTER_CLIENT_SECRET: sim.credentials.clientSecret,
    PARTNER_CENTER_REFRESH_TOKEN: sim.credentials.refreshToken,
    KEY_VAULT_URL: '',
    WEBHOOK_SIGNING_SECRET: BENCH_SIGNING_SECRET,
    POLL_SCHEDULE: '0 */5 * * * *',
    ...extra,
  };
}

export function configFrom(settings: Record<string, string>): AppConfig {
  return loadConfig({ ...settings });
}

/**
 * The app's services for in-process parts of the benchmark, with secrets read from `settings` (not the process
 * environment, so runs side by side against different simulators keep their own credentials) and telemetry off.
 */
export function benchServices(settings: Record<string, string>, overrides: Partial<Services> = {}): Services {
  const config = configFrom(settings);
  const secrets = new CachedSecretStore(new EnvironmentSecretStore({ ...settings }), {
    ttlMs: config.secrets.cacheTtlMs,
  });
  return createServices(config, { secrets, telemetry: noTelemetry, ...overrides });
}

export async function withAzurite<T>(body: (azurite: RunningAzurite) => Promise<T>): Promise<T> {
  const azurite = await startAzurite();
  try {
    return await body(azurite);
  } finally {
    await azurite.stop();
  }
}

/** An access token from the simulator's token endpoint (refresh-token grant), for seeding through the API. */
export async function simulatorToken(sim: RunningSimulator): Promise<string> {
  const { tenantId, clientId, clientSecret, refreshToken } = sim.credentials;
  const response = await fetch(`${sim.url}/${tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: clientId,
      client_secret: clientSecret,
      refresh_token: refreshToken,
      scope: 'https://api.partnercenter.microsoft.com/.default',
    }),
  });
  if (!response.ok) throw new Error(`simulator token endpoint answered ${response.status}`);
  const body = (await response.json()) as { access_token: string };
  return body.access_token;
}

/**
 * Starts one upgrade per customer in the simulator through its create API (seeding, before any measurement;
 * the simulator has no rate limit or latency set at this point). Returns upgrade ids in customer order.
 */
export async function createUpgrades(
  sim: RunningSimulator,
  customerIds: readonly string[],
  options: { concurrency?: number; beforeEach?: (index: number) => void } = {},
): Promise<string[]> {
  const token = await simulatorToken(sim);
  const ids: string[] = new Array<string>(customerIds.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= customerIds.length) return;
      options.beforeEach?.(index);
      const response = await fetch(`${sim.url}/v1/productUpgrades`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ customerId: customerIds[index], productFamily: 'Azure' }),
      });
      await response.arrayBuffer();
      const location = response.headers.get('location');
      if (response.status !== 202 || !location) throw new Error(`create answered ${response.status}`);
      ids[index] = location.split('/').pop()!;
    }
  };
  // A callback that moves a stepped clock between creates needs them one at a time.
  const concurrency = options.beforeEach ? 1 : (options.concurrency ?? 16);
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ids;
}

export interface TrackedUpgrade {
  upgradeId: string;
  customerId: string;
}

/**
 * Writes the tracking state startTracking leaves behind (upgrade row started, schedule row due at `dueAt`) for many
 * upgrades at once, in batch transactions: seeding 10,000 through the queue one by one would take longer than the
 * benchmark itself. The rows are built by the app's own functions. No CustomerUpgrades rows: the poll run never
 * touches that index.
 */
export async function seedTracked(
  config: AppConfig,
  upgrades: readonly TrackedUpgrade[],
  trackedAt: number,
  dueAt: number,
): Promise<void> {
  await seedTrackingTable(
    new Tables(config),
    upgrades.map(({ upgradeId, customerId }) =>
      startedRecord(newUpgradeRecord({ upgradeId, customerId, productFamily: 'Azure' }, trackedAt), trackedAt, dueAt),
    ),
  );
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
