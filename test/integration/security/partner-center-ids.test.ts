import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpResponseInit } from '@azure/functions';
import { appSettingsFor, startSimulator, type RunningSimulator } from '../../../dev/simulator';
import { checkEligibility } from '../../../functions/checkEligibility';
import { startUpgrade } from '../../../functions/startUpgrade';
import { loadConfig } from '../../../shared/config';
import { createSecretStore, silentSecretsLogger } from '../../../shared/secrets';
import { createServices, resetServices, type Services } from '../../../shared/services';
import { createQueueClient } from '../../../shared/storage/clients';
import { invocationContext, signedPost } from '../../helpers/functions';
import { customerId } from '../callbacks/harness';
import { RecordingTelemetry } from '../../../dev/recording-telemetry';
import { listEligibilityChecks } from '../../helpers/tracking-tables';
import { QUIET_SCHEDULE } from '../../../dev/stack';
import { newSigningSecret } from '../../../shared/webhooks/signing';

/**
 * An upgrade id from Partner Center becomes a table key, a `Location` header and a path: it is taken only as a GUID.
 * A loopback stub in front of the simulator rewrites Partner Center's answers the way a broken service, a proxy or
 * an attacker in the middle could; the real webhooks (checkEligibility, startUpgrade), the composition root and
 * Azurite do the rest.
 */

type Rewrite = (
  path: string,
  answer: { status: number; headers: Headers; body: string },
) => { status?: number; headers?: Record<string, string>; body?: string };

/** Forwards every request to the simulator and lets the test rewrite the answer. */
async function rewritingStub(
  target: string,
): Promise<{ url: string; rewrite: { fn?: Rewrite }; close(): Promise<void> }> {
  const rewrite: { fn?: Rewrite } = {};
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string' && !['host', 'connection', 'content-length'].includes(name))
          headers[name] = value;
      }
      void fetch(`${target}${req.url ?? '/'}`, {
        method: req.method,
        headers,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      }).then(async (answer) => {
        const original = { status: answer.status, headers: answer.headers, body: await answer.text() };
        const changed = rewrite.fn?.(new URL(req.url ?? '/', target).pathname, original) ?? {};
        const out: Record<string, string> = {
          'content-type': answer.headers.get('content-type') ?? 'application/json',
        };
        const location = answer.headers.get('location');
        if (location) out.location = location;
        res
          .writeHead(changed.status ?? answer.status, { ...out, ...changed.headers })
          .end(changed.body ?? original.body);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    rewrite,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** What Partner Center might send instead of an upgrade id, by what it is. */
const NOT_GUIDS: [string, string][] = [
  ['a path', '../../admin'],
  ['markup', 'x"><script>alert(1)</script>'],
  ['a GUID with a non-hex digit', '00000000-0000-4000-8000-00000000000g'],
  ['an id far past a table key', 'a'.repeat(800)],
];
const ELIGIBLE = customerId(0x501);
const WEBHOOK_SIGNING_SECRET = newSigningSecret();
/** One customer per value for the create: the simulator creates each upgrade whatever its answer says. */
const CREATING = NOT_GUIDS.map((_, i) => customerId(0x510 + i));

describe('security: an upgrade id from Partner Center that is not a GUID is refused, never used', () => {
  let sim: RunningSimulator;
  let stub: Awaited<ReturnType<typeof rewritingStub>>;
  let services: Services;

  beforeAll(async () => {
    sim = await startSimulator({
      port: 0,
      scenario: { name: 'ids', customers: [ELIGIBLE, ...CREATING].map((id) => ({ id })) },
    });
    stub = await rewritingStub(sim.url);
    const simulator = appSettingsFor(sim);
    const config = loadConfig({
      ...simulator,
      PARTNER_CENTER_API_URL: stub.url,
      AzureWebJobsStorage: process.env.AzureWebJobsStorage!,
      TABLE_NAME_PREFIX: `ids${randomBytes(4).toString('hex')}`,
      KEY_VAULT_URL: '',
      PARTNER_CENTER_MAX_ATTEMPTS: '1',
      POLL_SCHEDULE: QUIET_SCHEDULE,
    });
    const queue = (name: string) => createQueueClient(config.storage, `ids-${name}-${randomBytes(4).toString('hex')}`);
    services = createServices(config, {
      secrets: createSecretStore(config, {
        logger: silentSecretsLogger,
        env: { ...simulator, WEBHOOK_SIGNING_SECRET },
      }),
      telemetry: new RecordingTelemetry(),
      queues: { upgradeTracking: queue('t'), upgradeNotifications: queue('n'), upgradeNotificationsPoison: queue('p') },
    });
    resetServices(services);
  });
  afterAll(async () => {
    services?.consent.dispose();
    resetServices();
    await stub?.close();
    await sim?.close();
  });
  afterEach(() => (stub.rewrite.fn = undefined));

  async function post(path: '/api/eligibility' | '/api/upgrades', customer: string): Promise<HttpResponseInit> {
    const handler = path === '/api/eligibility' ? checkEligibility : startUpgrade;
    return handler(
      signedPost(path, { customerId: customer, productFamily: 'Azure' }, WEBHOOK_SIGNING_SECRET),
      invocationContext(),
    );
  }

  /** A refused answer: 503 (an unreadable answer is a dependency failure), no Location, no upgrade recorded. */
  async function expectRefused(response: HttpResponseInit, customer: string, bad: string): Promise<void> {
    expect(response.status).toBe(503);
    expect(Object.keys(response.headers ?? {}).map((h) => h.toLowerCase())).not.toContain('location');
    expect(JSON.stringify(response.jsonBody)).not.toContain(bad);
    expect((await services.tracking.listCustomerUpgrades(customer)).items).toEqual([]);
  }

  it.each(NOT_GUIDS)(
    "eligibility's upgradeId %j: both webhooks answer 503, record nothing, point nowhere",
    async (bad) => {
      // Before: the eligibility webhook recorded and tracked an upgrade under this id, and the start webhook answered
      // 409 with `Location: /api/upgrades/<it>`.
      stub.rewrite.fn = (path, answer) =>
        /\/productUpgrades\/eligibility$/i.test(path)
          ? { body: JSON.stringify({ ...JSON.parse(answer.body), isEligible: false, upgradeId: bad }) }
          : {};
      for (const path of ['/api/eligibility', '/api/upgrades'] as const) {
        await expectRefused(await post(path, ELIGIBLE), ELIGIBLE, bad);
      }
      // Not even the check is recorded: the answer as a whole is unreadable.
      expect(await listEligibilityChecks(services.tables, ELIGIBLE, 10)).toEqual([]);
    },
  );

  it.each(NOT_GUIDS.map(([what, bad], i) => [what, bad, CREATING[i]]))(
    "the create's Location with %s: 503, no upgrade recorded (the id is taken from GUID segments only)",
    async (_what, bad, customer) => {
      // Refused before too (upgradeIdFromLocation keeps GUID-shaped path segments only): kept as a check.
      stub.rewrite.fn = (path, answer) =>
        /\/productUpgrades$/i.test(path) && answer.status === 202
          ? { headers: { location: `productUpgrades/${encodeURIComponent(bad)}` } }
          : {};
      await expectRefused(await post('/api/upgrades', customer), customer, bad);
    },
  );

  it("a refusal without Partner Center's code (a proxy's page): a fixed text, never the page", async () => {
    // Before, `detail` carried the body: "non-JSON error body: <html>…" with whatever the page said.
    const page = '<html><body>Denied by edge-proxy-07.corp.internal (policy pc-egress, ticket 4711)</body></html>';
    stub.rewrite.fn = (path) =>
      /\/productUpgrades\/eligibility$/i.test(path)
        ? { status: 400, headers: { 'content-type': 'text/html' }, body: page }
        : {};
    const response = await post('/api/eligibility', ELIGIBLE);
    expect(response.status).toBe(422);
    const text = JSON.stringify(response.jsonBody);
    for (const needle of ['edge-proxy', 'corp.internal', 'html', 'pc-egress']) expect(text).not.toContain(needle);
    expect(response.jsonBody).toMatchObject({ detail: 'Partner Center refused the request without an error code.' });
  });
});
