import { loadConfig } from '../../shared/config';
import { RefreshTokenOwner } from '../../shared/partner-center';
import { createServices, flushServices, type Services } from '../../shared/services';
import type { FlushableTelemetry } from '../../shared/telemetry';
import { RecordingTelemetry } from '../../dev/recording-telemetry';
import { MemorySecretStore } from '../helpers/memory-secret-store';

/** Records its flushes, and what the vault held at each (the write-back must come first). */
class FlushRecordingTelemetry extends RecordingTelemetry implements FlushableTelemetry {
  readonly flushes: { vaultWrites: number }[] = [];
  constructor(private readonly vault: MemorySecretStore) {
    super();
  }
  flush(): Promise<void> {
    this.flushes.push({ vaultWrites: this.vault.writes.length });
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return this.flush();
  }
}

const HOUR = 3_600_000;

const THROTTLED_SECRET = 'PARTNER_CENTER_REFRESH_TOKEN';

/** Services whose consent owner holds a rotated refresh token in memory only (written at most once an hour). */
async function servicesWithPendingToken(): Promise<{
  services: Services;
  vault: MemorySecretStore;
  telemetry: FlushRecordingTelemetry;
}> {
  const vault = new MemorySecretStore({ [THROTTLED_SECRET]: 'consented' });
  const consent = new RefreshTokenOwner(vault, { checkIntervalMs: HOUR, writeIntervalMs: HOUR, now: () => 0 });
  const first = (await consent.current())!;
  consent.rotated(first, 'rotated-1'); // written at once: the first write
  await consent.flush();
  consent.rotated({ token: 'rotated-1', generation: first.generation }, 'rotated-2'); // held: the interval has not passed
  expect(vault.writes.map((w) => w.value)).toEqual(['rotated-1']);
  expect(consent.hasPendingWrite).toBe(true);
  const telemetry = new FlushRecordingTelemetry(vault);
  const config = loadConfig({
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    PARTNER_CENTER_TENANT_ID: '00000000-0000-4000-8000-000000000001',
    PARTNER_CENTER_CLIENT_ID: '00000000-0000-4000-8000-000000000002',
    POLL_SCHEDULE: '0 */5 * * * *',
  });
  return { services: createServices(config, { consent, telemetry }), vault, telemetry };
}

describe('flushServices (the appTerminate hook)', () => {
  let warnings: jest.SpyInstance;
  beforeEach(() => {
    warnings = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warnings.mockRestore());
  const warned = () => warnings.mock.calls.map((args) => args.join(' '));

  it('writes back the pending refresh token, then sends the queued telemetry', async () => {
    const { services, vault, telemetry } = await servicesWithPendingToken();
    await expect(flushServices(4_000, services)).resolves.toBe('flushed');
    expect(warned()).toEqual([]);
    expect(vault.values.get(THROTTLED_SECRET)).toBe('rotated-2');
    expect(telemetry.flushes).toEqual([{ vaultWrites: 2 }]);
  });

  it('still sends the telemetry when the write-back fails, and says so', async () => {
    const { services, vault, telemetry } = await servicesWithPendingToken();
    vault.failNextSets = 10;
    await expect(flushServices(4_000, services)).resolves.toBe('failed');
    expect(vault.values.get(THROTTLED_SECRET)).toBe('rotated-1');
    expect(telemetry.flushes).toHaveLength(1);
    expect(warned()).toContainEqual(expect.stringMatching(/^flush: the refresh token write-back failed: /));
    for (const line of warned()) expect(line).not.toContain('rotated-2');
  });

  it('gives up within its time when the vault does not answer, so the worker can still exit on its own', async () => {
    const { services, vault } = await servicesWithPendingToken();
    vault.holdSets = new Promise<void>(() => undefined);
    await expect(flushServices(50, services)).resolves.toBe('timed-out');
    expect(warned()).toEqual(['flush: not finished within 50 ms; what is left is lost']);
  });

  it('has nothing to do (and builds nothing) when no invocation built the services', async () => {
    await expect(flushServices(4_000, undefined)).resolves.toBe('idle');
  });
});
