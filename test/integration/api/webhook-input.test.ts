import { request as httpRequest } from 'node:http';
import { startHostedStack, type HttpAnswer, type HostedStack, type PostOptions } from '../../../dev/stack';
import { newSigningSecret } from '../../../shared/webhooks/signing';
import { documentedCalls, expectDocumented, type ProblemBody } from '../../helpers/api';
import { eligible } from './customers';

/**
 * What the two POST webhooks refuse before doing anything, through real HTTP into the real app: every answer is a
 * documented problem (never a 500) and nothing reaches Partner Center.
 */
describe.each(['/eligibility', '/upgrades'])('POST %s refuses bad input', (path) => {
  let stack: HostedStack;

  beforeAll(async () => {
    stack = await startHostedStack({ tablePrefix: 'apiinput' });
  });
  afterAll(async () => stack?.stop());

  const partnerCenterCalls = (): number => {
    const requests = stack.sim.state.counters().requests;
    return (requests.eligibility?.total ?? 0) + (requests.create?.total ?? 0);
  };

  const api = documentedCalls(() => stack);
  const send = (body: string, options?: PostOptions) => api.post(path, body, options);

  function fieldsOf(response: HttpAnswer): string[] {
    const problem = response.body as ProblemBody;
    expect(problem.type).toBe('urn:azure-plan-upgrades:problem:validation');
    return (problem.errors ?? []).map((e) => e.field).sort();
  }

  it.each([
    ['customerId missing', '{}', ['customerId']],
    ['customerId empty', '{"customerId":""}', ['customerId']],
    ['customerId not a GUID', '{"customerId":"contoso"}', ['customerId']],
    ['customerId a number', '{"customerId":42}', ['customerId']],
    ['productFamily other than Azure', `{"customerId":"${eligible(1)}","productFamily":"Office"}`, ['productFamily']],
    ['productFamily not a string', `{"customerId":"${eligible(1)}","productFamily":["Azure"]}`, ['productFamily']],
    ['both fields wrong', '{"customerId":"x","productFamily":"Office"}', ['customerId', 'productFamily']],
    ['body an array', '[]', ['body']],
    ['body a string', '"hello"', ['body']],
    ['body null', 'null', ['body']],
    ['body not JSON', '{"customerId":', ['body']],
    ['body empty', '', ['body']],
  ])('400 naming the field: %s', async (_case, body, fields) => {
    const before = partnerCenterCalls();
    const response = await send(body);
    expect(response.status).toBe(400);
    expect(fieldsOf(response)).toEqual(fields);
    expect(partnerCenterCalls()).toBe(before);
  });

  it('400 naming webhook-id when it is missing or not 1-255 visible ASCII characters', async () => {
    const before = partnerCenterCalls();
    for (const webhookId of [null, '', 'has space', 'x'.repeat(256)]) {
      const response = await send(`{"customerId":"${eligible(1)}"}`, { headers: { 'webhook-id': webhookId } });
      expect(response.status).toBe(400);
      expect(fieldsOf(response)).toEqual(['webhook-id']);
    }
    expect(partnerCenterCalls()).toBe(before);
  });

  it('401 without a signature, with a wrong one, or with a stale timestamp; nothing reaches Partner Center', async () => {
    const body = `{"customerId":"${eligible(1)}"}`;
    const before = partnerCenterCalls();
    const refusals: PostOptions[] = [
      { headers: { 'webhook-signature': null } },
      { headers: { 'webhook-timestamp': null } },
      { secret: newSigningSecret() },
      { signedAt: Math.floor(Date.now() / 1000) - 600 },
      { headers: { 'webhook-signature': 'garbage' } },
      {
        headers: {
          'x-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'ab'.repeat(32)}`,
          'webhook-signature': null,
        },
      },
    ];
    for (const options of refusals) {
      const response = await send(body, options);
      expect(response.status).toBe(401);
      expect((response.body as ProblemBody).type).toBe('urn:azure-plan-upgrades:problem:invalid-signature');
    }
    expect(partnerCenterCalls()).toBe(before);
  });

  it('413 for a body over 64 KB', async () => {
    const body = JSON.stringify({ customerId: eligible(1), padding: 'x'.repeat(70_000) });
    const response = await send(body);
    expect(response.status).toBe(413);
    expect((response.body as ProblemBody).type).toBe('urn:azure-plan-upgrades:problem:payload-too-large');
  });

  it('415 for a body that is not declared JSON', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', null]) {
      const response = await send(`{"customerId":"${eligible(1)}"}`, { contentType });
      expect(response.status).toBe(415);
      expect((response.body as ProblemBody).type).toBe('urn:azure-plan-upgrades:problem:unsupported-media-type');
    }
  });

  it('accepts application/json with a charset and productFamily in any case', async () => {
    const response = await api.post(
      '/eligibility',
      { customerId: eligible(2).toUpperCase(), productFamily: 'aZuRe' },
      { contentType: 'application/json; charset=utf-8' },
    );
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ customerId: eligible(2), productFamily: 'Azure', isEligible: true });
  });
});

describe('POST /eligibility refuses a chunked body over 64 KB (no Content-Length to trust)', () => {
  let stack: HostedStack;
  beforeAll(async () => {
    stack = await startHostedStack({ tablePrefix: 'apichunk' });
  });
  afterAll(async () => stack?.stop());

  it('413 problem details', async () => {
    const body = JSON.stringify({ customerId: eligible(1), padding: 'x'.repeat(70_000) });
    const url = new URL(`${stack.host.url}/api/eligibility`);
    const response = await new Promise<HttpAnswer>((resolve, reject) => {
      const request = httpRequest(
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...stack.signedHeaders(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({
              status: res.statusCode ?? 0,
              headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)])),
              body: JSON.parse(text) as unknown,
              text,
            });
          });
        },
      );
      request.on('error', reject);
      // Two writes without Content-Length: Node sends Transfer-Encoding: chunked.
      request.write(body.slice(0, 30_000));
      request.end(body.slice(30_000));
    });
    expectDocumented('POST', '/eligibility', response);
    expect(response.status).toBe(413);
  });
});
