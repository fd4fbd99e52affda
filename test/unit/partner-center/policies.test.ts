import {
  createDefaultHttpClient,
  createEmptyPipeline,
  createPipelineRequest,
  type PipelinePolicy,
  type PipelineRequest,
} from '@azure/core-rest-pipeline';
import { AttemptTimeoutError, attemptTimeoutPolicy } from '../../../shared/partner-center/policies/attempt-timeout';
import { partnerCenterAuthPolicy, PARTNER_CENTER_SCOPE } from '../../../shared/partner-center/policies/auth';
import { partnerCenterHeadersPolicy } from '../../../shared/partner-center/policies/headers';
import { dependencyName, partnerCenterTelemetryPolicy } from '../../../shared/partner-center/policies/telemetry';
import { RecordingTelemetry } from '../../../dev/recording-telemetry';
import { CountingCredential, json, loopback, type Loopback } from './loopback';

const httpClient = createDefaultHttpClient();

function send(url: string, policies: PipelinePolicy[], init: Partial<PipelineRequest> = {}) {
  const pipeline = createEmptyPipeline();
  for (const policy of policies) pipeline.addPolicy(policy);
  const request = createPipelineRequest({ url, method: 'POST', allowInsecureConnection: true, body: '{}' });
  Object.assign(request, init);
  return pipeline.sendRequest(httpClient, request);
}

let server: Loopback;
afterEach(async () => server?.close());

describe('partnerCenterHeadersPolicy', () => {
  it('sets the documented headers and keeps caller-set ids', async () => {
    server = await loopback((_req, res) => json(res, 200, {}));
    const policy = partnerCenterHeadersPolicy({ applicationName: 'my-app', locale: 'fr-FR' });
    const request = createPipelineRequest({
      url: server.url,
      method: 'POST',
      body: '{}',
      allowInsecureConnection: true,
    });
    request.headers.set('MS-RequestId', 'req-1');
    request.headers.set('MS-CorrelationId', 'corr-1');
    const pipeline = createEmptyPipeline();
    pipeline.addPolicy(policy);
    await pipeline.sendRequest(httpClient, request);
    await send(server.url, [policy]);
    const [first, second] = server.requests;
    expect(first.headers).toMatchObject({
      accept: 'application/json',
      'content-type': 'application/json',
      'ms-contract-version': 'v1',
      'x-locale': 'fr-FR',
      'ms-partnercenter-application': 'my-app',
      'ms-requestid': 'req-1',
      'ms-correlationid': 'corr-1',
    });
    expect(second.headers['ms-requestid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.headers['ms-correlationid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.headers['x-locale']).toBe('fr-FR');
  });

  it('defaults X-Locale to en-US', async () => {
    server = await loopback((_req, res) => json(res, 200, {}));
    await send(server.url, [partnerCenterHeadersPolicy({ applicationName: 'a' })]);
    expect(server.requests[0].headers['x-locale']).toBe('en-US');
  });
});

describe('partnerCenterAuthPolicy', () => {
  it('asks the credential for the Partner Center scope on every attempt and sends the bearer token', async () => {
    server = await loopback((_req, res) => json(res, 200, {}));
    const credential = new CountingCredential();
    const scopes: unknown[] = [];
    const spy = {
      getToken: (scope: string | string[]) => {
        scopes.push(scope);
        return credential.getToken();
      },
    };
    const policy = partnerCenterAuthPolicy(spy);
    await send(server.url, [policy]);
    await send(server.url, [policy]);
    expect(server.requests.map((r) => r.headers.authorization)).toEqual(['Bearer test-token-1', 'Bearer test-token-2']);
    expect(scopes).toEqual([PARTNER_CENTER_SCOPE, PARTNER_CENTER_SCOPE]);
  });

  it('on 401, invalidates the refused token and tries once more with a fresh one', async () => {
    server = await loopback((req, res) =>
      req.headers.authorization === 'Bearer test-token-1' ? json(res, 401, { code: 800001 }) : json(res, 200, {}),
    );
    const counting = new CountingCredential();
    const credential = Object.assign(counting, {
      invalidateAccessToken: (token: string) => void counting.invalidated.push(token),
    });
    const response = await send(server.url, [partnerCenterAuthPolicy(credential)]);
    expect(response.status).toBe(200);
    expect(credential.invalidated).toEqual(['test-token-1']);
    expect(server.requests).toHaveLength(2);
  });

  it('returns a 401 as is when the credential cannot invalidate, or issues the same token again', async () => {
    server = await loopback((_req, res) => json(res, 401, { code: 800001 }));
    const plain = new CountingCredential();
    expect((await send(server.url, [partnerCenterAuthPolicy(plain)])).status).toBe(401);
    expect(server.requests).toHaveLength(1);
    const sameToken = {
      getToken: () => Promise.resolve({ token: 'same', expiresOnTimestamp: Date.now() + 60_000 }),
      invalidateAccessToken: () => undefined,
    };
    expect((await send(server.url, [partnerCenterAuthPolicy(sameToken)])).status).toBe(401);
    expect(server.requests).toHaveLength(2);
  });
});

describe('attemptTimeoutPolicy', () => {
  // A server that never answers: only the attempt's own timeout (or the caller's abort) can end these calls.
  const silent = () => undefined;

  it('fails a slow attempt with AttemptTimeoutError', async () => {
    server = await loopback(silent);
    await expect(send(server.url, [attemptTimeoutPolicy(100)])).rejects.toBeInstanceOf(AttemptTimeoutError);
  });

  it('counts a body that trickles in after the headers', async () => {
    server = await loopback((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"a":'); // and the rest never comes
    });
    await expect(send(server.url, [attemptTimeoutPolicy(150)])).rejects.toBeInstanceOf(AttemptTimeoutError);
  });

  it("passes the caller's own abort through as an abort, not a timeout", async () => {
    const controller = new AbortController();
    // The caller gives up once the request is out; the attempt's timeout is far away.
    server = await loopback(() => controller.abort());
    const error: unknown = await send(server.url, [attemptTimeoutPolicy(5000)], {
      abortSignal: controller.signal,
    }).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(AttemptTimeoutError);
    expect((error as Error).name).toBe('AbortError');
  });

  it('lets a fast attempt through and restores the caller signal', async () => {
    server = await loopback((_req, res) => json(res, 200, { ok: true }));
    const controller = new AbortController();
    const request = createPipelineRequest({
      url: server.url,
      method: 'POST',
      allowInsecureConnection: true,
      abortSignal: controller.signal,
    });
    const pipeline = createEmptyPipeline();
    pipeline.addPolicy(attemptTimeoutPolicy(1000));
    const response = await pipeline.sendRequest(httpClient, request);
    expect(response.bodyAsText).toBe('{"ok":true}');
    expect(request.abortSignal).toBe(controller.signal);
  });
});

describe('partnerCenterTelemetryPolicy', () => {
  const ID = '42d075a4-bfe7-43e7-af6d-7c68a57edcb4';

  it('names dependencies without ids', () => {
    expect(dependencyName('POST', `http://h/v1/productUpgrades/${ID}/status`)).toBe(
      'POST /v1/productUpgrades/{id}/status',
    );
  });

  it('reports each attempt with MS-RequestId, MS-CorrelationId, MS-CV and MS-ServerId', async () => {
    server = await loopback((req, res) =>
      json(
        res,
        404,
        { code: 900106 },
        {
          'MS-RequestId': String(req.headers['ms-requestid']),
          'MS-CorrelationId': String(req.headers['ms-correlationid']),
          'MS-CV': 'abc.0',
          'MS-ServerId': 'srv-1',
        },
      ),
    );
    const telemetry = new RecordingTelemetry();
    const logs: unknown[] = [];
    await send(`${server.url}/v1/productUpgrades/${ID}/status`, [
      partnerCenterHeadersPolicy({ applicationName: 'a' }),
      partnerCenterTelemetryPolicy(telemetry, (...args) => logs.push(args)),
    ]);
    expect(telemetry.dependencies).toHaveLength(1);
    const dependency = telemetry.dependencies[0];
    expect(dependency).toMatchObject({
      name: 'POST /v1/productUpgrades/{id}/status',
      target: new URL(server.url).host,
      success: false,
      resultCode: 404,
      properties: {
        'MS-RequestId': server.requests[0].headers['ms-requestid'],
        'MS-CorrelationId': server.requests[0].headers['ms-correlationid'],
        'MS-CV': 'abc.0',
        'MS-ServerId': 'srv-1',
      },
    });
    expect(logs).toHaveLength(1);
  });

  it('reports an attempt that got no response', async () => {
    server = await loopback((_req, res) => void res.destroy());
    const telemetry = new RecordingTelemetry();
    await expect(send(server.url, [partnerCenterTelemetryPolicy(telemetry, () => undefined)])).rejects.toBeDefined();
    expect(telemetry.dependencies[0]).toMatchObject({ success: false, resultCode: 'ECONNRESET' });
  });
});
