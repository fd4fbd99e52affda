import dns from 'node:dns';
import net from 'node:net';
import type * as TelemetryIndex from '../../../shared/telemetry';

/**
 * Loads shared/telemetry in a fresh module registry in which loading the Application Insights packages is recorded
 * (and refused), so a test can tell whether createTelemetry pulled them in.
 */
function loadTelemetryWatchingSdk(): { telemetryModule: typeof TelemetryIndex; sdkLoads: string[] } {
  const sdkLoads: string[] = [];
  let telemetryModule: typeof TelemetryIndex | undefined;
  jest.isolateModules(() => {
    for (const sdk of ['applicationinsights', '@azure/monitor-opentelemetry']) {
      jest.doMock(sdk, () => {
        sdkLoads.push(sdk);
        throw new Error(`${sdk} was loaded`);
      });
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a fresh copy inside the isolated registry
    telemetryModule = require('../../../shared/telemetry') as typeof TelemetryIndex;
  });
  if (!telemetryModule) throw new Error('shared/telemetry did not load');
  return { telemetryModule, sdkLoads };
}

describe('createTelemetry', () => {
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('without a connection string logs to the console, makes no network call and never loads the SDK', async () => {
    const connect = jest.spyOn(net.Socket.prototype, 'connect');
    const lookup = jest.spyOn(dns, 'lookup');
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    // Timers the test controls: whatever the telemetry schedules (a send later, a retry) is seen and can be fired.
    jest.useFakeTimers();
    const { telemetryModule, sdkLoads } = loadTelemetryWatchingSdk();

    const telemetry = telemetryModule.createTelemetry({
      appInsightsConnectionString: undefined,
      appInsightsAuthenticationString: 'ClientId=abc;Authorization=AAD',
    });
    telemetry.event('PollRunCompleted', { runId: 'r-1' }, { due: 1 });
    telemetry.dependency({
      name: 'POST /v1/productUpgrades/eligibility',
      target: 'api.partnercenter.microsoft.com',
      durationMs: 3,
      success: false,
      resultCode: 503,
    });
    telemetry.exception(new Error('boom'));
    await telemetry.flush();
    await telemetry.shutdown();
    expect(jest.getTimerCount()).toBe(0); // nothing left to fire later
    jest.runAllTimers();

    expect(telemetry).toBeInstanceOf(telemetryModule.ConsoleTelemetry);
    expect(log.mock.calls.map(([line]) => String(line))).toEqual([
      expect.stringMatching(/^\[telemetry\] event PollRunCompleted /),
      expect.stringMatching(/^\[telemetry\] dependency failed /),
      expect.stringMatching(/^\[telemetry\] exception Error: boom/),
    ]);
    expect(sdkLoads).toEqual([]);
    expect(connect).not.toHaveBeenCalled();
    expect(lookup).not.toHaveBeenCalled();
  });

  it('with a connection string loads applicationinsights (so the check above can see a load)', () => {
    const { telemetryModule, sdkLoads } = loadTelemetryWatchingSdk();
    expect(() =>
      telemetryModule.createTelemetry({
        appInsightsConnectionString: 'InstrumentationKey=00000000-0000-0000-0000-000000000001',
        appInsightsAuthenticationString: undefined,
      }),
    ).toThrow('applicationinsights was loaded');
    expect(sdkLoads).toEqual(['applicationinsights']);
  });
});
