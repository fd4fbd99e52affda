import { generateFleetScenario, type RunningSimulator } from '../../../dev/simulator';
import { requestFleetScan } from '../../../shared/fleet';
import { fleetRows, fleetSimulator, scanStack, scanStep, truthDiff, truths } from './helpers';

/**
 * The fleet scan against the simulator over loopback HTTP and real Azurite: 2,000 generated customers of every kind
 * scanned, then compared with the simulator's ground truth customer by customer, with the paging pitfalls on.
 */

jest.setTimeout(300_000);

describe('a scan of 2,000 generated customers', () => {
  let sim: RunningSimulator;
  afterAll(async () => sim?.close());

  it('equals the ground truth customer by customer, and asks only what is not known', async () => {
    sim = await fleetSimulator(generateFleetScenario({ customers: 2_000, seed: 21 }), {
      maxPageSize: 250,
      nextLink: 'root',
      continuation: 'headerAndBody',
      endWithError2000: true,
    });
    const stack = scanStack('fleet2k', sim);
    const requested = await requestFleetScan(stack.store);
    expect(requested.outcome).toBe('created');
    const started = performance.now();
    const result = await scanStep(stack);
    const seconds = (performance.now() - started) / 1000;
    expect(result).toMatchObject({ outcome: 'worked', state: 'completed', checked: 2_000 });
    const rows = await fleetRows(stack.store);
    expect(truthDiff(truths(sim), rows)).toEqual([]);
    console.log(
      `[fleet] 2,000 customers scanned in ${seconds.toFixed(1)} s; calls ${JSON.stringify(stack.partnerCenter.totals)}`,
    );
  });
});
