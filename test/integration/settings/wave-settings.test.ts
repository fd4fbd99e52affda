import type { Timer } from '@azure/functions';
import { generateFleetScenario } from '../../../dev/simulator';
import { createFleetWave } from '../../../functions/createFleetWave';
import { pollUpgrades } from '../../../functions/pollUpgrades';
import { requestFleetScan } from '../../../shared/fleet';
import { httpRequest, invocationContext } from '../../helpers/functions';
import { fleetApp } from './installed-app';
import { describeSettingProbes, type Probe } from './probes';

/**
 * Every wave setting the README's settings table documents changes what the app does, observed through the real
 * functions (the timer run scans the fleet; the create endpoint makes a wave that names no pace) against the simulator
 * and Azurite, at the setting's default and at another value.
 */

jest.setTimeout(120_000);

const timer = { isPastDue: false } as Timer;
const installed = fleetApp('wset', generateFleetScenario({ customers: 6, seed: 5, mix: { eligible: 1 } }));

/** The app from its settings (plus `settings`), installed for the function handlers, its fleet scanned. */
async function scannedApp(settings: Record<string, string>): Promise<void> {
  const services = installed(settings);
  await requestFleetScan(services.fleet);
  await pollUpgrades(timer, invocationContext({ functionName: 'pollUpgrades' }));
}

const probes: Record<string, Probe> = {
  WAVE_CREATES_PER_MINUTE: {
    changed: '45',
    // A wave created without a pace gets the setting's: the pace its timer runs start its customers at.
    observe: async (value) => {
      await scannedApp(value === undefined ? {} : { WAVE_CREATES_PER_MINUTE: value });
      const response = await createFleetWave(
        httpRequest({
          method: 'POST',
          path: '/api/fleet/waves',
          headers: { 'content-type': 'application/json' },
          body: { select: { state: 'eligible' } },
        }),
        invocationContext({ functionName: 'createFleetWave' }),
      );
      const body = response.jsonBody as { createsPerMinute: number; progress: { members: number } };
      return { status: response.status, createsPerMinute: body.createsPerMinute, members: body.progress.members };
    },
    atDefault: { status: 202, createsPerMinute: 30, members: 6 },
    atChanged: { status: 202, createsPerMinute: 45, members: 6 },
  },
};

describeSettingProbes('wave settings: each one documented changes what the app does', 'WAVE_', probes, 1);
