import type { QueueClient } from '@azure/storage-queue';
import { setTimeout as delay } from 'node:timers/promises';
import { loadConfig, type AppConfig } from './config';
import { FleetStore, TriageCache, type BackgroundOptions } from './fleet';
import { poisonQueueName } from './queues/poison';
import {
  createPartnerCenterClient,
  createRefreshTokenOwner,
  type CustomerDirectory,
  type PartnerCenterClient,
  type PartnerCenterLogger,
  type ProductUpgrades,
  type RefreshTokenOwner,
} from './partner-center';
import { createSecretStore, type CachedSecretStore } from './secrets';
import { createQueueClient } from './storage/clients';
import { QUEUES } from './storage/names';
import { Tables } from './storage/tables';
import { createTelemetry, isFlushable, type Telemetry } from './telemetry';
import { queueNotifier, queueTracker, TrackingStore } from './tracking';

/**
 * The composition root: every long-lived object the functions use, built once per process from the validated
 * config. Functions call `getServices()`; tests build their own with `createServices(config, overrides)` and install
 * it with `resetServices(services)`.
 */
export interface Services {
  config: AppConfig;
  tables: Tables;
  telemetry: Telemetry;
  secrets: CachedSecretStore;
  /** The one owner of the Partner Center refresh token; `consent.flush()` writes a pending rotation back now. */
  consent: RefreshTokenOwner;
  partnerCenter: ProductUpgrades;
  /** The fleet view of the same Partner Center client: customers, subscriptions, usage records, agreements. */
  customerDirectory: CustomerDirectory;
  tracking: TrackingStore;
  fleet: FleetStore;
  /** The usage records of the scan in progress, kept between the timer runs this process serves. */
  fleetTriage: TriageCache;
  queues: { upgradeTracking: QueueClient; upgradeNotifications: QueueClient; upgradeNotificationsPoison: QueueClient };
}

/** Console logging for the SDK-facing parts; values passed here never include secrets (see each caller). */
const partnerCenterLogger: PartnerCenterLogger = (level, message, properties) => {
  const line = properties && Object.keys(properties).length > 0 ? `${message} ${JSON.stringify(properties)}` : message;
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else if (level === 'info') console.info(line);
};

export function createServices(config: AppConfig = loadConfig(), overrides: Partial<Services> = {}): Services {
  const tables = overrides.tables ?? new Tables(config);
  const telemetry = overrides.telemetry ?? createTelemetry(config);
  const secrets = overrides.secrets ?? createSecretStore(config, { logger: console });
  const consent = overrides.consent ?? createRefreshTokenOwner(config, secrets, partnerCenterLogger);
  // One client serves both views, built only when an override does not replace both.
  let client: PartnerCenterClient | undefined;
  const partnerCenterClient = () =>
    (client ??= createPartnerCenterClient(config, secrets, { telemetry, logger: partnerCenterLogger, consent }));
  return {
    config,
    tables,
    telemetry,
    secrets,
    consent,
    partnerCenter: overrides.partnerCenter ?? partnerCenterClient(),
    customerDirectory: overrides.customerDirectory ?? partnerCenterClient(),
    tracking: overrides.tracking ?? new TrackingStore(tables),
    fleet: overrides.fleet ?? new FleetStore(tables),
    fleetTriage: overrides.fleetTriage ?? new TriageCache(),
    queues: overrides.queues ?? {
      upgradeTracking: createQueueClient(config.storage, QUEUES.upgradeTracking),
      upgradeNotifications: createQueueClient(config.storage, QUEUES.upgradeNotifications),
      upgradeNotificationsPoison: createQueueClient(config.storage, poisonQueueName(QUEUES.upgradeNotifications)),
    },
  };
}

let current: Services | undefined;

/**
 * The timer run's production wiring (`runBackground`): the app's stores and clients, final-status notifications and
 * tracking messages through their queues. The `pollUpgrades` function runs with it; so does the scan benchmark.
 */
export function backgroundOptions(services: Services): BackgroundOptions {
  return {
    tracking: services.tracking,
    partnerCenter: services.partnerCenter,
    directory: services.customerDirectory,
    fleet: services.fleet,
    config: services.config,
    telemetry: services.telemetry,
    notify: queueNotifier(services.queues.upgradeNotifications),
    track: queueTracker(services.queues.upgradeTracking),
    triage: services.fleetTriage,
  };
}

export function getServices(): Services {
  current ??= createServices();
  return current;
}

export function resetServices(services?: Services): void {
  current = services;
}

/** What `flushServices` did: nothing built yet, everything written, something failed (logged), or out of time. */
export type FlushOutcome = 'idle' | 'flushed' | 'failed' | 'timed-out';

/**
 * Drains what only this process holds: first the rotated refresh token not yet written back (its write may report
 * telemetry), then the queued telemetry. The appTerminate hook calls it before the worker exits (functions/index.ts).
 * Bounded by `withinMs`, and never throws: whatever fails is logged, and the process is about to end anyway. When no
 * invocation has built the services there is nothing to flush, and nothing is built for it.
 */
export async function flushServices(withinMs: number, services: Services | undefined = current): Promise<FlushOutcome> {
  if (!services) return 'idle';
  const { consent, telemetry } = services;
  const drain = async (): Promise<FlushOutcome> => {
    let outcome: FlushOutcome = 'flushed';
    const failed = (what: string) => (error: unknown) => {
      console.warn(`flush: ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      outcome = 'failed';
    };
    await consent.flush().catch(failed('the refresh token write-back'));
    if (isFlushable(telemetry)) await telemetry.flush().catch(failed('sending the queued telemetry'));
    return outcome;
  };
  const deadline = new AbortController();
  const outcome = await Promise.race([
    drain(),
    // Aborted once the drain wins; the rejection then settles a race that is already over.
    delay(withinMs, 'timed-out' as const, { signal: deadline.signal }).catch(() => 'timed-out' as const),
  ]).finally(() => deadline.abort());
  if (outcome === 'timed-out') console.warn(`flush: not finished within ${withinMs} ms; what is left is lost`);
  return outcome;
}
