import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { createAppInsightsTelemetry } from '../../../shared/telemetry/app-insights';
import type { FlushableTelemetry } from '../../../shared/telemetry/telemetry';
import { startIngestion, type Envelope, type Ingestion } from './ingestion';

/** Stands in for the managed identity: hands out a fixed token and records the scopes asked for. */
class RecordingCredential implements TokenCredential {
  readonly scopes: string[] = [];
  constructor(private readonly clientId: string | undefined) {}
  getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    return Promise.resolve({
      token: `entra-token-for-${this.clientId ?? 'system'}`,
      expiresOnTimestamp: Date.now() + 3_600_000,
    });
  }
}

const byType = (envelopes: Envelope[], baseType: string): Record<string, unknown>[] =>
  envelopes.filter((e) => e.data.baseType === baseType).map((e) => e.data.baseData);

describe('Application Insights telemetry', () => {
  let ingestion: Ingestion;
  let telemetry: FlushableTelemetry;
  let credential: RecordingCredential | undefined;
  const previousStatsbeat = process.env.APPLICATION_INSIGHTS_NO_STATSBEAT;

  beforeAll(async () => {
    // Statsbeat reports to a Microsoft endpoint, not to the resource: off, so the test stays on loopback.
    process.env.APPLICATION_INSIGHTS_NO_STATSBEAT = 'true';
    ingestion = await startIngestion();
    telemetry = createAppInsightsTelemetry({
      connectionString: `InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=${ingestion.url}`,
      authenticationString: 'ClientId=11111111-2222-3333-4444-555555555555;Authorization=AAD',
      createCredential: (clientId) => (credential = new RecordingCredential(clientId)),
      ingestionTls: { ca: ingestion.cert.toString('utf8') },
    });
  });

  afterAll(async () => {
    await telemetry.shutdown();
    await new Promise((resolve) => ingestion.server.close(resolve));
    if (previousStatsbeat === undefined) delete process.env.APPLICATION_INSIGHTS_NO_STATSBEAT;
    else process.env.APPLICATION_INSIGHTS_NO_STATSBEAT = previousStatsbeat;
  });

  /**
   * Flushes until `done` holds for what arrived. A flush resolves once the exporter has sent what it held and the
   * endpoint has answered; should the exporter split what it holds, the next flush sends the rest.
   */
  async function flushUntil(done: (envelopes: Envelope[]) => boolean): Promise<void> {
    for (let flushes = 0; flushes < 5 && !done(ingestion.envelopes); flushes++) await telemetry.flush();
  }

  it('sends events with measurements, every Partner Center dependency of a burst with its MS-* ids, and exceptions', async () => {
    telemetry.event(
      'PollRunCompleted',
      { runId: 'run-1', refreshToken: 'seeded-refresh-token-value', webhookSignature: 'seeded-signature-value' },
      { due: 3, polled: 3, changed: 1, throttled: 0, errors: 0, durationMs: 812, outstanding: 7 },
    );
    // A poll run makes its calls back to back: the default rate-limited sampler dropped such bursts.
    for (let i = 0; i < 8; i++) {
      telemetry.dependency({
        name: 'POST /v1/productUpgrades/{id}/status',
        target: 'api.partnercenter.microsoft.com',
        durationMs: 40 + i,
        success: true,
        resultCode: 200,
        properties: {
          'MS-RequestId': `req-${i}`,
          'MS-CorrelationId': 'op-1',
          'MS-CV': `cv.${i}`,
          Authorization: 'Bearer seeded-access-token',
        },
      });
    }
    telemetry.dependency({
      name: 'POST /v1/productUpgrades/eligibility',
      target: 'api.partnercenter.microsoft.com',
      durationMs: 30_000,
      success: false,
      resultCode: 'Timeout',
      properties: { 'MS-RequestId': 'req-timeout', 'MS-CorrelationId': 'op-1' },
    });
    telemetry.exception(new Error('Partner Center answered 500 three times'), {
      operation: 'poll',
      clientSecret: 'seeded-client-secret',
    });

    await flushUntil(
      (envelopes) =>
        byType(envelopes, 'EventData').length >= 1 &&
        byType(envelopes, 'RemoteDependencyData').length >= 9 &&
        byType(envelopes, 'ExceptionData').length >= 1,
    );

    const events = byType(ingestion.envelopes, 'EventData');
    expect(events).toEqual([
      expect.objectContaining({
        name: 'PollRunCompleted',
        properties: { runId: 'run-1' },
        measurements: { due: 3, polled: 3, changed: 1, throttled: 0, errors: 0, durationMs: 812, outstanding: 7 },
      }),
    ]);

    const dependencies = byType(ingestion.envelopes, 'RemoteDependencyData');
    expect(dependencies).toHaveLength(9);
    const statusCalls = dependencies.filter((d) => d.name === 'POST /v1/productUpgrades/{id}/status');
    expect(statusCalls.map((d) => (d.properties as Record<string, string>)['MS-RequestId']).sort()).toEqual(
      Array.from({ length: 8 }, (_, i) => `req-${i}`),
    );
    expect(statusCalls[0]).toMatchObject({
      type: 'Http',
      target: 'api.partnercenter.microsoft.com',
      resultCode: '200',
      success: true,
      properties: expect.objectContaining({ 'MS-CorrelationId': 'op-1', 'MS-CV': expect.stringMatching(/^cv\.\d$/) }),
    });
    expect(statusCalls[0]?.properties).not.toHaveProperty('http.method');
    expect(dependencies.find((d) => d.name === 'POST /v1/productUpgrades/eligibility')).toMatchObject({
      type: 'Http',
      resultCode: 'Timeout',
      success: false,
      duration: '00:00:30.000',
      properties: expect.objectContaining({ 'MS-RequestId': 'req-timeout' }),
    });

    const exceptions = byType(ingestion.envelopes, 'ExceptionData');
    expect(exceptions).toEqual([
      expect.objectContaining({
        exceptions: [
          expect.objectContaining({ typeName: 'Error', message: 'Partner Center answered 500 three times' }),
        ],
        properties: expect.objectContaining({ operation: 'poll' }),
      }),
    ]);

    const everything = JSON.stringify(ingestion.envelopes);
    for (const seeded of [
      'seeded-refresh-token-value',
      'seeded-signature-value',
      'seeded-access-token',
      'seeded-client-secret',
    ]) {
      expect(everything).not.toContain(seeded);
    }
  }, 20_000);

  it('authenticates to ingestion with the Entra credential of the configured managed identity', () => {
    expect(credential?.scopes).toContain('https://monitor.azure.com/.default');
    expect(ingestion.authorizations.length).toBeGreaterThan(0);
    expect(new Set(ingestion.authorizations)).toEqual(
      new Set(['Bearer entra-token-for-11111111-2222-3333-4444-555555555555']),
    );
  });

  it('is set up once per process: the same connection string gets the same instance, another one is refused', () => {
    const connectionString = `InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=${ingestion.url}`;
    expect(createAppInsightsTelemetry({ connectionString })).toBe(telemetry);
    expect(() =>
      createAppInsightsTelemetry({ connectionString: 'InstrumentationKey=00000000-0000-0000-0000-000000000002' }),
    ).toThrow(/already set up/);
  });
});
