import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { format } from 'node:util';
import { isFinal } from '../../shared/tracking';
import { newSigningSecret } from '../../shared/webhooks/signing';
import { eventually } from '../helpers/local-host';
import { customerId, startHarness, type Harness } from '../integration/callbacks/harness';

/**
 * Acceptance: the end-to-end scenario with distinctive secret values seeded in the environment secret store, every
 * log line (console and function context logs) and every telemetry item captured, and none of the secrets in them:
 * not the client secret, not the refresh tokens (the seeded one and every rotated one), not the access tokens the
 * simulator minted, not the webhook or callback signing secrets, not the key in the callback URL's query string.
 */
const CANARY = `canary${randomUUID().replace(/-/g, '').slice(0, 12)}`;
const SECRETS = {
  clientSecret: `${CANARY}-client-secret-Qz81`,
  refreshToken: `${CANARY}-refresh-token-Lm27`,
  // Standard Webhooks secrets: whsec_ and the base64 of their bytes, which hold the canary (a decoded key shows it).
  webhookSecret: `whsec_${Buffer.from(`${CANARY}-webhook-signing-Hx55`).toString('base64')}`,
  callbackSecret: `whsec_${Buffer.from(`${CANARY}-callback-signing-Vb09`).toString('base64')}`,
};

const COMPLETES = [customerId(0x201), customerId(0x202), customerId(0x203)];
const FAILS = customerId(0x204);
const INELIGIBLE = customerId(0x205);
const FLAKY_RECEIVER = customerId(0x206);
const REFUSING_RECEIVER = customerId(0x207);

/**
 * A pass-through proxy in front of the simulator's token endpoint that keeps every token it hands out, so the test
 * knows the access and refresh tokens the app received (the simulator does not expose them).
 */
class TokenRecordingProxy {
  readonly tokens = new Set<string>();
  private server: Server | undefined;

  async start(target: string): Promise<string> {
    this.server = createServer((req, res) => {
      void this.forward(target, req).then(
        ({ status, contentType, body }) => res.writeHead(status, { 'content-type': contentType }).end(body),
        () => res.writeHead(502).end(),
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async forward(
    target: string,
    req: IncomingMessage,
  ): Promise<{ status: number; contentType: string; body: string }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string' && !['host', 'connection', 'content-length'].includes(name)) headers[name] = value;
    }
    const response = await fetch(`${target}${req.url ?? '/'}`, {
      method: req.method,
      headers,
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    const body = await response.text();
    try {
      const parsed = JSON.parse(body) as { access_token?: unknown; refresh_token?: unknown };
      for (const token of [parsed.access_token, parsed.refresh_token]) {
        if (typeof token === 'string' && token.length > 0) this.tokens.add(token);
      }
    } catch {
      // not a token response
    }
    return { status: response.status, contentType: response.headers.get('content-type') ?? 'text/plain', body };
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('no secret reaches a log line or a telemetry item (end to end)', () => {
  const lines: string[] = [];
  const proxy = new TokenRecordingProxy();
  let h: Harness;
  let restore: (() => void)[] = [];

  beforeAll(async () => {
    // Every console method and both output streams: whatever the app, the SDKs or the host print is captured.
    for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
      const spy = jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(format(...args));
      });
      restore.push(() => spy.mockRestore());
    }
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      stream.write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
        lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        return (original as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
      };
      restore.push(() => {
        stream.write = original;
      });
    }
    h = await startHarness({
      callbackSecret: SECRETS.callbackSecret,
      webhookSecret: SECRETS.webhookSecret,
      simulatorCredentials: { clientSecret: SECRETS.clientSecret, refreshToken: SECRETS.refreshToken },
      authorityHost: (simulatorUrl) => proxy.start(simulatorUrl),
      consoleTelemetry: true,
      log: (line) => lines.push(line),
      customers: [
        ...COMPLETES.map((id) => ({ id, legacySubscriptions: 2 })),
        { id: FAILS, outcome: 'Failed' as const, errorDetails: { code: '900200', description: 'Upgrade failed' } },
        { id: INELIGIBLE, ineligibleReason: 'suspendedSubscriptions' as const },
        { id: FLAKY_RECEIVER },
        { id: REFUSING_RECEIVER },
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
    await proxy.stop();
    for (const undo of restore) undo();
    restore = [];
  });

  const signedPost = (path: string, body: object, secret = SECRETS.webhookSecret) => h.post(path, body, { secret });

  /**
   * Poll runs until every one of these upgrades is final. Between runs, the wait is the app's own schedule: until the
   * first of them is due again (status calls that failed are retried after POLL_MIN_INTERVAL_SECONDS).
   */
  async function pollUntilFinal(upgradeIds: string[]): Promise<void> {
    for (;;) {
      const records = await Promise.all(
        upgradeIds.map(async (id) => (await h.services.tracking.readUpgrade(id))?.record),
      );
      const open = records.filter((r) => !r || !isFinal(r.status));
      if (open.length === 0) return;
      const due = Math.min(...open.map((r) => (r?.nextPollAt ? Date.parse(r.nextPollAt) : Date.now())));
      if (due > Date.now()) await sleep(due - Date.now());
      await h.triggerPoll();
    }
  }

  it('runs eligibility, starts, polling to final and callbacks, and no captured line or item holds a secret', async () => {
    h.receiver.script(FLAKY_RECEIVER, [503]);
    h.receiver.script(REFUSING_RECEIVER, [400]);
    const finishing = [...COMPLETES, FAILS, FLAKY_RECEIVER, REFUSING_RECEIVER];

    // Eligibility for everyone (one ineligible), then a start for every eligible customer.
    for (const customer of [...finishing, INELIGIBLE]) {
      const response = await signedPost('/eligibility', { customerId: customer, productFamily: 'Azure' });
      expect(response.status).toBe(200);
    }
    // Error paths log too: a wrongly signed request (401) and a start for the ineligible customer (422).
    const wrong = newSigningSecret();
    expect((await signedPost('/upgrades', { customerId: COMPLETES[0], productFamily: 'Azure' }, wrong)).status).toBe(
      401,
    );
    expect((await signedPost('/upgrades', { customerId: INELIGIBLE, productFamily: 'Azure' })).status).toBe(422);
    const upgradeIds = new Map<string, string>();
    for (const customer of finishing) upgradeIds.set(customer, await h.startUpgrade(customer));
    for (const upgradeId of upgradeIds.values()) await h.tracked(upgradeId);

    // Access tokens die mid-run: the app refreshes (a new access token and a rotated refresh token).
    expect(h.sim.state.expireAccessTokens()).toBeGreaterThan(0);
    h.sim.setFaults('status', { status503: 0.2 });
    h.clock.advance(60_000);
    await pollUntilFinal([...upgradeIds.values()]);
    h.sim.setFaults('status', null);

    // Every finished upgrade's callback is settled: delivered (one after a 503 retry) or rejected (400).
    await eventually(() => {
      const settled = [...upgradeIds.values()].every((id) => h.receiver.for(id).some((r) => r.answered !== 503));
      return settled ? true : undefined;
    }, 20_000);
    for (const id of upgradeIds.values()) {
      const response = await fetch(`${h.host.url}/api/upgrades/${id}`);
      expect(response.status).toBe(200);
    }
    // The host stops as in Azure: the invocations in flight end, then appTerminate flushes what is queued. Every log
    // line and telemetry item there will be is then captured.
    await h.host.stop();

    // The scan is only meaningful when the run really exercised the secrets: tokens were minted and rotated,
    // callbacks were signed and verified, and there is plenty to scan.
    const minted = [...proxy.tokens];
    expect(minted.length).toBeGreaterThanOrEqual(4); // two access tokens + two rotated refresh tokens at least
    expect(h.receiver.received.filter((r) => r.verified)).toHaveLength(h.receiver.received.length);
    expect(h.receiver.received.length).toBeGreaterThanOrEqual(finishing.length + 1);
    expect(h.telemetry.named('CallbackDelivered').length).toBe(finishing.length - 1);
    expect(h.telemetry.named('CallbackRejected').length).toBe(1);
    expect(lines.length).toBeGreaterThan(100);
    expect(h.telemetry.items.filter((i) => i.kind === 'dependency').length).toBeGreaterThan(0);

    const callbackKey = new URL(h.receiver.url).searchParams.get('code');
    expect(callbackKey).toBeTruthy();
    const needles = new Map<string, string>([
      ...Object.entries(SECRETS),
      // The signing secrets' base64 part alone (a secret logged without its prefix).
      ['webhook signing key', SECRETS.webhookSecret.slice('whsec_'.length)],
      ['callback signing key', SECRETS.callbackSecret.slice('whsec_'.length)],
      ['callback URL key', callbackKey!],
      ...minted.flatMap((token, i): [string, string][] => {
        // JWT-shaped tokens: the whole token and its signature segment (the header segment is shared by all JWTs).
        const signature = token.split('.').at(-1) ?? token;
        return [
          [`token ${i}`, token],
          [`token ${i} signature`, signature],
        ];
      }),
    ]);
    const haystacks = [
      ...lines.map((line, i) => ({ where: `log line ${i}`, text: line })),
      ...h.telemetry.items.map((item, i) => ({ where: `telemetry ${item.kind} ${item.name} #${i}`, text: item.text })),
    ];
    const leaks: string[] = [];
    for (const [name, value] of needles) {
      if (value.length < 12) continue; // a short segment would match by chance; the whole token is checked anyway
      for (const { where, text } of haystacks) if (text.includes(value)) leaks.push(`${name} in ${where}`);
    }
    // The canary prefix alone catches a truncated or re-encoded-but-readable secret.
    for (const { where, text } of haystacks) if (text.includes(CANARY)) leaks.push(`canary in ${where}`);
    expect(leaks).toEqual([]);
  }, 90_000);
});
