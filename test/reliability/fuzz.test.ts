import fc from 'fast-check';
import { MAX_JSON_BODY_BYTES } from '../../shared/http/body';
import { hostStack, signedHeaders, type HostedStack } from '../../dev/stack';
import { newSigningSecret, webhookIdProblem } from '../../shared/webhooks/signing';
import { httpRequest as buildRequest, invocationContext } from '../helpers/functions';
import { checkEligibility } from '../../functions/checkEligibility';
import { startUpgrade } from '../../functions/startUpgrade';
import { wrapWrites } from './faults';
import { seedFor } from './prng';
import { customerIds, Rig, SIGNING_SECRET } from './rig';

/**
 * HTTP fuzzing of the two webhooks with fast-check: malformed and wrongly typed JSON, huge and deeply nested
 * bodies, `__proto__` keys, bad webhook-ids and bad signatures. Every answer is 2xx or 4xx (no dependency is down, so
 * never a 5xx), and a request without a valid signature has no side effect: no Partner Center call (counted by the
 * simulator) and no table write (counted under the store). RELIABILITY_FUZZ_RUNS (default 10,000) requests go
 * through the handlers directly; RELIABILITY_FUZZ_HTTP_RUNS (default 300) through the local host's real HTTP.
 */
jest.setTimeout(300_000);

const RUNS = Number(process.env.RELIABILITY_FUZZ_RUNS ?? 10_000);
const HTTP_RUNS = Number(process.env.RELIABILITY_FUZZ_HTTP_RUNS ?? 300);

type SignatureKind = 'valid' | 'none' | 'garbage' | 'wrong-secret' | 'stale' | 'other-body' | 'other-id' | 'truncated';

interface FuzzRequest {
  path: 'eligibility' | 'upgrades';
  body: string;
  contentType: string | undefined;
  signature: SignatureKind;
  /** The webhook-id sent (and signed); undefined: none. */
  webhookId: string | undefined;
}

const deep = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth);
const HUGE_BODIES = [
  JSON.stringify({ customerId: 'a'.repeat(MAX_JSON_BODY_BYTES), productFamily: 'Azure' }),
  deep(100_000, '[', ']'),
  deep(5_000, '{"a":', '}').replace(/}$/, '1}'),
  `{"customerId":"${'\\u0000'.repeat(2000)}"}`,
  'x'.repeat(MAX_JSON_BODY_BYTES + 1),
];

function bodyArbitrary(customers: string[]): fc.Arbitrary<string> {
  const guidish = fc.oneof(
    fc.constantFrom(...customers),
    fc.uuid(),
    fc.string(),
    fc.constant(customers[0].toUpperCase()),
  );
  const scalar = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
  const value = fc.oneof(scalar, fc.array(scalar), fc.dictionary(fc.string(), scalar));
  const object = fc.record(
    {
      customerId: fc.oneof(guidish, value),
      productFamily: fc.oneof(fc.constantFrom('Azure', 'azure', 'AZURE', 'Office', ''), value),
      __proto__: fc.oneof(value, fc.constant({ isAdmin: true })),
      constructor: value,
      extra: value,
    },
    { requiredKeys: [] },
  );
  return fc.oneof(
    { weight: 4, arbitrary: object.map((o) => JSON.stringify(o)) },
    // `__proto__` as an own key in the raw text (JSON.stringify of an object literal would drop it)
    { weight: 2, arbitrary: guidish.map((id) => `{"customerId":"${id}","productFamily":"Azure","__proto__":{"x":1}}`) },
    { weight: 2, arbitrary: fc.json() },
    { weight: 2, arbitrary: fc.string({ unit: 'binary' }) },
    { weight: 1, arbitrary: fc.constantFrom(...HUGE_BODIES) },
    { weight: 1, arbitrary: fc.constantFrom('', '{', '{"customerId":', 'null', '[]', '"x"', '{}', '\uFEFF{}') },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(...customers)
        .map((customerId) => JSON.stringify({ customerId, productFamily: 'Azure' })),
    },
  );
}

function requestArbitrary(customers: string[]): fc.Arbitrary<FuzzRequest> {
  const webhookId = fc.oneof(
    { weight: 4, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.string() },
    { weight: 1, arbitrary: fc.string({ minLength: 256, maxLength: 400 }) },
    { weight: 1, arbitrary: fc.constantFrom('', 'msg_fixed', undefined) },
  );
  return fc.record({
    path: fc.constantFrom('eligibility' as const, 'upgrades' as const),
    body: bodyArbitrary(customers),
    contentType: fc.oneof(
      { weight: 6, arbitrary: fc.constant('application/json') },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          'application/json; charset=utf-8',
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/jsonx',
          undefined,
        ),
      },
    ),
    signature: fc.oneof(
      { weight: 1, arbitrary: fc.constant<SignatureKind>('valid') },
      {
        weight: 1,
        arbitrary: fc.constantFrom<SignatureKind>(
          'none',
          'garbage',
          'wrong-secret',
          'stale',
          'other-body',
          'other-id',
          'truncated',
        ),
      },
    ),
    webhookId,
  });
}

const ANOTHER_SECRET = newSigningSecret();

function signatureFor(kind: SignatureKind, body: string, webhookId: string): Record<string, string> {
  switch (kind) {
    case 'valid':
      return signedHeaders(body, SIGNING_SECRET, { webhookId });
    case 'none':
      return { 'webhook-id': webhookId };
    case 'garbage':
      return { 'webhook-id': webhookId, 'webhook-timestamp': 'abc', 'webhook-signature': 'v1,zz' };
    case 'wrong-secret':
      return signedHeaders(body, ANOTHER_SECRET, { webhookId });
    case 'stale':
      return signedHeaders(body, SIGNING_SECRET, { webhookId, at: Math.floor(Date.now() / 1000) - 3600 });
    case 'other-body':
      return signedHeaders(`${body} `, SIGNING_SECRET, { webhookId });
    case 'other-id':
      return { ...signedHeaders(body, SIGNING_SECRET, { webhookId: `${webhookId}x` }), 'webhook-id': webhookId };
    case 'truncated': {
      const signed = signedHeaders(body, SIGNING_SECRET, { webhookId });
      return { ...signed, 'webhook-signature': signed['webhook-signature'].slice(0, -2) };
    }
  }
}

/** The webhook-id as it can be sent: header values must be valid HTTP header text. */
function sentId(request: FuzzRequest): string | undefined {
  return request.webhookId?.replace(/[^\x20-\x7e]/g, '?');
}

function headersFor(request: FuzzRequest): Record<string, string> {
  const id = sentId(request);
  const signature = signatureFor(request.signature, request.body, id ?? 'msg_absent');
  if (id === undefined) delete signature['webhook-id'];
  return { ...(request.contentType ? { 'content-type': request.contentType } : {}), ...signature };
}

describe('HTTP fuzzing of the webhooks', () => {
  let rig: Rig;
  let writes = 0;
  const partnerCenterCalls = () => {
    const requests = rig.sim.state.counters().requests;
    return (requests.eligibility?.total ?? 0) + (requests.create?.total ?? 0) + (requests.status?.total ?? 0);
  };

  beforeAll(async () => {
    rig = await Rig.start({
      label: 'fuzz',
      customers: 6,
      seed: 11,
      wrapTables: (tables) =>
        wrapWrites(tables, (_key, _method, write) => {
          writes++;
          return write();
        }),
    });
  });
  afterAll(async () => rig?.stop());

  function check(request: FuzzRequest, status: number, before: { pc: number; writes: number }): void {
    if (status >= 500) throw new Error(`${status} for ${request.path} (${request.signature})`);
    if (request.signature !== 'valid') {
      // A malformed webhook-id is refused (400) before the signature is checked; either way nothing happens.
      // (As the app reads the header: HTTP trims the whitespace around a header value.)
      const refusal = webhookIdProblem(sentId(request)?.trim() ?? null) ? 400 : 401;
      if (status !== refusal && status !== 413 && status !== 415) {
        throw new Error(`unsigned request answered ${status}, not ${refusal}/413/415`);
      }
      if (partnerCenterCalls() !== before.pc) throw new Error('Partner Center called without a valid signature');
      if (writes !== before.writes) throw new Error('a table written without a valid signature');
    }
  }

  it(`${RUNS} generated requests through the handlers: only 2xx/4xx, no side effect unsigned`, async () => {
    const seed = seedFor('fuzz: handlers');
    const customers = customerIds(rig);
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArbitrary(customers), async (request) => {
        rig.install();
        const before = { pc: partnerCenterCalls(), writes };
        const handler = request.path === 'eligibility' ? checkEligibility : startUpgrade;
        const response = await handler(
          buildRequest({
            method: 'POST',
            path: `/api/${request.path}`,
            headers: headersFor(request),
            body: request.body,
          }),
          invocationContext({ functionName: request.path }),
        );
        const status = response.status ?? 200;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        check(request, status, before);
      }),
      { seed, numRuns: RUNS, endOnFailure: true },
    );
    console.log(`[reliability] fuzz: statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    // the generator reaches past the signature: valid requests were answered too (not everything was refused)
    expect([...statuses.keys()].some((s) => s < 300)).toBe(true);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(401) ?? 0).toBeGreaterThan(0);
  });

  describe('through the local host over real HTTP', () => {
    let hosted: HostedStack;
    beforeAll(async () => {
      hosted = await hostStack(rig.stack);
    });
    afterAll(async () => {
      await hosted?.host.stop(); // the rig stops the rest
    });

    it(`${HTTP_RUNS} generated requests: only 2xx/4xx, no side effect unsigned`, async () => {
      const seed = seedFor('fuzz: local host HTTP');
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(requestArbitrary(customerIds(rig)), async (request) => {
          rig.install();
          const before = { pc: partnerCenterCalls(), writes };
          const response = await fetch(`${hosted.host.url}/api/${request.path}`, {
            method: 'POST',
            headers: headersFor(request),
            body: request.body,
          });
          await response.arrayBuffer();
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          check(request, response.status, before);
        }),
        { seed, numRuns: HTTP_RUNS, endOnFailure: true },
      );
      console.log(`[reliability] fuzz over HTTP: statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
      expect(statuses.get(401) ?? 0).toBeGreaterThan(0);
    });
  });
});
