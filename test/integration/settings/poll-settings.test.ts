import { randomUUID } from 'node:crypto';
import type { Timer } from '@azure/functions';
import { appRegistry } from '../../../dev/host/registry';
import { resolveAppSettings } from '../../../dev/host/settings';
import { pollUpgrades } from '../../../functions/pollUpgrades';
import { startTracking } from '../../../functions/startTracking';
import { loadConfig, parseNcrontab } from '../../../shared/config';
import { resetServices, type Services } from '../../../shared/services';
import { RecordingTelemetry } from '../../../dev/recording-telemetry';
import type { UpgradeRecord } from '../../../shared/tracking/records';
import { newUpgradeRecord, startedRecord } from '../../../shared/tracking/start-tracking';
import { invocationContext } from '../../helpers/functions';
import { installedApp } from './installed-app';
import { describeSettingProbes, type Probe } from './probes';
import { ScriptedPartnerCenter, type ScriptStep } from '../tracking/helpers';
import { seedTrackingTable } from '../../../dev/tracking-seed';

/**
 * Every poll setting the README's settings table documents changes what the app does: for each one, the same
 * situation is run through the real functions (startTracking, pollUpgrades, the timer registration) with the
 * setting at its default and at another value, and each run's observable outcome is checked. A setting that is
 * documented but not wired (or has no probe here) fails this file.
 */

const SECOND = 1_000;
const DAY = 86_400_000;
const timer = { isPastDue: false } as Timer;

interface App {
  services: Services;
  partnerCenter: ScriptedPartnerCenter;
  telemetry: RecordingTelemetry;
}

/** The app's services built from its settings (plus `settings`), installed for the function handlers. */
function app(settings: Record<string, string>): App {
  const partnerCenter = new ScriptedPartnerCenter();
  const telemetry = new RecordingTelemetry();
  const services = installedApp(
    'set',
    { PARTNER_CENTER_TENANT_ID: randomUUID(), PARTNER_CENTER_CLIENT_ID: randomUUID(), ...settings },
    { partnerCenter, telemetry },
  );
  return { services, partnerCenter, telemetry };
}

afterAll(() => resetServices());

/** Upgrades as startTracking leaves them, due now, created `ageMs` ago, each answering `step` when polled. */
async function tracked(target: App, count: number, step: ScriptStep, ageMs = 0): Promise<UpgradeRecord[]> {
  const now = Date.now();
  const records = Array.from({ length: count }, () => {
    const message = { upgradeId: randomUUID(), customerId: randomUUID(), productFamily: 'Azure' };
    target.partnerCenter.script(message.upgradeId, step);
    return startedRecord(newUpgradeRecord(message, now - ageMs), now - ageMs, now - SECOND);
  });
  await seedTrackingTable(target.services.tables, records);
  return records;
}

async function poll(target: App): Promise<void> {
  await target.services.queues.upgradeNotifications.createIfNotExists();
  await pollUpgrades(timer, invocationContext({ functionName: 'pollUpgrades' }));
}

/** Seconds from the poll to the next one planned for a single upgrade polled once (the jitter takes up to 20 % off). */
async function nextPollSeconds(settings: Record<string, string>, step: ScriptStep): Promise<number> {
  const target = app({ POLL_RATE_PER_SECOND: '1000', ...settings });
  const [upgrade] = await tracked(target, 1, step);
  await poll(target);
  const { record } = (await target.services.tracking.readUpgrade(upgrade.upgradeId))!;
  return (Date.parse(record.nextPollAt!) - Date.parse(record.lastPolledAt!)) / SECOND;
}

/** Matches a number from `low` to `high` (inclusive) inside toEqual. */
const within = (low: number, high: number) => ({
  asymmetricMatch: (value: unknown) => typeof value === 'number' && value >= low && value <= high,
  toAsymmetricMatcher: () => `a number from ${low} to ${high}`,
});

const probes: Record<string, Probe> = {
  POLL_SCHEDULE: {
    changed: '0 0 * * * *',
    // The timer trigger's schedule, as the host resolves `%POLL_SCHEDULE%` from the app settings; unset, the host has
    // no schedule to resolve, and the app refuses to start naming it.
    observe: async (value) => {
      const settings = {
        AzureWebJobsStorage: 'UseDevelopmentStorage=true',
        PARTNER_CENTER_TENANT_ID: randomUUID(),
        PARTNER_CENTER_CLIENT_ID: randomUUID(),
        ...(value === undefined ? {} : { POLL_SCHEDULE: value }),
      };
      let config;
      try {
        config = loadConfig(settings);
      } catch (error) {
        return (error as Error).message;
      }
      const registration = appRegistry.registrations.find((r) => r.name === 'pollUpgrades');
      if (registration?.kind !== 'timer') throw new Error('pollUpgrades is not registered as a timer');
      const expression = resolveAppSettings(registration.options.schedule, { POLL_SCHEDULE: config.poll.schedule });
      return new Date(parseNcrontab(expression).next(Date.parse('2026-05-01T10:01:00.000Z'))).toISOString();
    },
    atDefault: 'Setting POLL_SCHEDULE is required but not set',
    atChanged: '2026-05-01T11:00:00.000Z',
  },
  POLL_CONCURRENCY: {
    changed: '1',
    // Status calls in flight at once, with six upgrades due and each call taking a while.
    observe: async (value) => {
      const target = app({ POLL_RATE_PER_SECOND: '1000', ...(value === undefined ? {} : { POLL_CONCURRENCY: value }) });
      await tracked(target, 6, 'InProgress');
      target.partnerCenter.delayMs = 100;
      await poll(target);
      return target.partnerCenter.maxInFlight;
    },
    atDefault: 6,
    atChanged: 1,
  },
  POLL_RATE_PER_SECOND: {
    changed: '2',
    // The rate the run's gate keeps (PollRunCompleted), and whether three calls took at least the ~1 s that two
    // intervals at 2/s take (a table write sits between the gate and the call, so not exactly 1 s).
    observe: async (value) => {
      const target = app(value === undefined ? {} : { POLL_RATE_PER_SECOND: value });
      await tracked(target, 3, 'InProgress');
      await poll(target);
      const run = target.telemetry.events.find((e) => e.name === 'PollRunCompleted')!;
      const starts = target.partnerCenter.calls.map((c) => c.at);
      const span = Math.max(...starts) - Math.min(...starts);
      return { rate: run.measurements.finalRatePerSecond, calls: starts.length, spreadOverASecond: span >= 900 };
    },
    atDefault: expect.objectContaining({ rate: 10, calls: 3 }),
    atChanged: { rate: 2, calls: 3, spreadOverASecond: true },
  },
  POLL_TIME_BUDGET_SECONDS: {
    changed: '5',
    // How long a claim keeps other runs off an upgrade: the run's budget and 30 s (read during the status call).
    observe: async (value) => {
      const target = app({
        POLL_RATE_PER_SECOND: '1000',
        ...(value === undefined ? {} : { POLL_TIME_BUDGET_SECONDS: value }),
      });
      const [upgrade] = await tracked(target, 1, 'InProgress');
      const store = target.services.tracking;
      let leaseSeconds: number | undefined;
      const started = Date.now();
      const call = target.partnerCenter.getUpgradeStatus.bind(target.partnerCenter);
      target.partnerCenter.getUpgradeStatus = async (request, options) => {
        for await (const entry of store.dueEntries(store.shardOf(upgrade.upgradeId), Date.now())) {
          if (entry.state.upgradeId === upgrade.upgradeId) leaseSeconds = (entry.lease!.until - started) / SECOND;
        }
        return call(request, options);
      };
      await poll(target);
      return leaseSeconds;
    },
    atDefault: within(270, 272),
    atChanged: within(35, 37),
  },
  POLL_FIRST_DELAY_SECONDS: {
    changed: '0',
    // When a new upgrade's first poll is due, after startTracking (the queue trigger) has run.
    observe: async (value) => {
      const target = app(value === undefined ? {} : { POLL_FIRST_DELAY_SECONDS: value });
      const upgradeId = randomUUID();
      target.partnerCenter.script(upgradeId, 'Pending'); // startTracking verifies an upgrade it did not record
      const before = Date.now();
      await startTracking(
        { upgradeId, customerId: randomUUID(), productFamily: 'Azure' },
        invocationContext({ functionName: 'startTracking' }),
      );
      const { record } = (await target.services.tracking.readUpgrade(upgradeId))!;
      return Math.round((Date.parse(record.nextPollAt!) - before) / SECOND);
    },
    atDefault: within(30, 31),
    atChanged: within(0, 1),
  },
  POLL_MIN_INTERVAL_SECONDS: {
    changed: '600',
    // InProgress first seen: the next poll after the minimum interval.
    observe: (value) => nextPollSeconds(value === undefined ? {} : { POLL_MIN_INTERVAL_SECONDS: value }, 'InProgress'),
    atDefault: within(48, 60),
    atChanged: within(480, 600),
  },
  POLL_MAX_INTERVAL_SECONDS: {
    changed: '60',
    // Pending first seen backs off one step (twice the minimum of 60 s): the cap cuts it when lower.
    observe: (value) => nextPollSeconds(value === undefined ? {} : { POLL_MAX_INTERVAL_SECONDS: value }, 'Pending'),
    atDefault: within(96, 120),
    atChanged: within(48, 60),
  },
  POLL_MAX_AGE_DAYS: {
    changed: '1',
    // An upgrade started two days ago and still InProgress.
    observe: async (value) => {
      const target = app({
        POLL_RATE_PER_SECOND: '1000',
        ...(value === undefined ? {} : { POLL_MAX_AGE_DAYS: value }),
      });
      const [upgrade] = await tracked(target, 1, 'InProgress', 2 * DAY);
      await poll(target);
      return (await target.services.tracking.readUpgrade(upgrade.upgradeId))!.record.status;
    },
    atDefault: 'InProgress',
    atChanged: 'Stale',
  },
};

describeSettingProbes('poll settings: each one documented changes what the app does', 'POLL_', probes, 8);
