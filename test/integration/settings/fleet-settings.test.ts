import type { Timer } from '@azure/functions';
import { generateFleetScenario } from '../../../dev/simulator';
import { pollUpgrades } from '../../../functions/pollUpgrades';
import type { Services } from '../../../shared/services';
import { invocationContext } from '../../helpers/functions';
import { fleetApp } from './installed-app';
import { describeSettingProbes, type Probe } from './probes';

/**
 * Every fleet setting the README's settings table documents changes what the app does, observed through the real
 * timer function (pollUpgrades) against the simulator and Azurite, at the setting's default and at another value.
 */

jest.setTimeout(120_000);

const timer = { isPastDue: false } as Timer;
const installed = fleetApp('fset', generateFleetScenario({ customers: 12, seed: 3 }));

/** The app's services from its settings (plus `settings`), installed for the function handlers. */
async function app(settings: Record<string, string>): Promise<Services> {
  const services = installed(settings);
  await services.queues.upgradeTracking.createIfNotExists();
  return services;
}

/** A timer run at `at` (the app's wall clock). */
async function runAt(at: string): Promise<void> {
  const now = jest.spyOn(Date, 'now').mockReturnValue(Date.parse(at));
  try {
    await pollUpgrades(timer, invocationContext({ functionName: 'pollUpgrades' }));
  } finally {
    now.mockRestore();
  }
}

const probes: Record<string, Probe> = {
  FLEET_SCAN_SCHEDULE: {
    changed: '0 0 3 * * *',
    // A fresh deployment's first timer run at 01:00 UTC, then one at 02:30: by the default (daily at 02:00) a
    // scheduled scan starts in the second run and, the fleet being small, completes in it; at 03:00 daily, not yet.
    observe: async (value) => {
      const services = await app(value === undefined ? {} : { FLEET_SCAN_SCHEDULE: value });
      await runAt('2026-05-01T01:00:00.000Z');
      const anchored = await services.fleet.readSlot();
      await runAt('2026-05-01T02:30:00.000Z');
      const slot = await services.fleet.readSlot();
      return {
        firstRun: anchored?.scan ? 'scanned' : 'anchored',
        secondRun: slot?.scan
          ? { trigger: slot.scan.trigger, state: slot.scan.state, checked: slot.scan.counts.checked }
          : 'none',
      };
    },
    atDefault: { firstRun: 'anchored', secondRun: { trigger: 'schedule', state: 'completed', checked: 12 } },
    atChanged: { firstRun: 'anchored', secondRun: 'none' },
  },
};

describeSettingProbes('fleet settings: each one documented changes what the app does', 'FLEET_', probes, 1);
