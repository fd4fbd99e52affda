import { randomUUID } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { generateFleetScenario, type Scenario } from '../../../dev/simulator';
import { stackServices, startHostedStack, type HostedStack, type HttpAnswer } from '../../../dev/stack';
import { readFleetCustomers } from '../../../shared/api/fleet';
import { FleetStore } from '../../../shared/fleet';
import { resetServices } from '../../../shared/services';
import { documentedCalls, type ProblemBody } from '../../helpers/api';
import { deadStorageConnectionString } from '../../helpers/dead-storage';
import { CountingTables } from '../tracking/helpers';
import { expectedMeaning, truths, unlistedCustomer } from './helpers';

/**
 * The fleet API through real HTTP into the real app in the local host: a scan asked for over HTTP and run by the timer
 * (2,000 generated customers against the simulator, real Azurite), its progress, the summary, the paged listing and
 * its CSV export, compared with the simulator's ground truth and with each other; every refusal documented.
 */

jest.setTimeout(300_000);

const CUSTOMERS = 2_000;

/** Company names a spreadsheet would run as formulas, and names CSV must quote. */
const TRICKY_NAMES = [
  '=HYPERLINK("http://example.test/x","open me")',
  '+Contoso, "Ltd"',
  '-Fabrikam\nGroup',
  '@Northwind',
  '\tTailspin',
  'Wide World; Importers, Inc.',
];

function scenario(): Scenario {
  const generated = generateFleetScenario({ customers: CUSTOMERS, seed: 33 });
  const customers = generated.customers.map((customer, i) =>
    i < TRICKY_NAMES.length ? { ...customer, name: TRICKY_NAMES[i], domain: `tricky${i}.onmicrosoft.com` } : customer,
  );
  return { ...generated, customers };
}

interface FleetCustomer {
  customerId: string;
  companyName?: string;
  state: string;
  reason?: string;
  upgradeId?: string;
  resellers: string[];
  [field: string]: unknown;
}
interface CustomerPage {
  items: FleetCustomer[];
  continuationToken?: string;
}
interface FleetScan {
  scanId: string;
  state: string;
  customers: { seen: number; checked: number; expected?: number; remaining?: number };
  partnerCenterCalls: Record<string, number>;
  byState: Record<string, number>;
  notEligibleByReason: Record<string, number>;
  estimate?: { callsLeft: number; callsPerCustomer: number; timerRuns: number; secondsLeft: number };
  [field: string]: unknown;
}

describe('the fleet API', () => {
  let stack: HostedStack;
  let firstScan: string;

  beforeAll(async () => {
    stack = await startHostedStack({
      tablePrefix: 'fleetapi',
      simulator: { scenario: scenario() },
      // The timer run's budget: fast enough for a test (the benchmark measures the scan at the real rate).
      settings: { POLL_RATE_PER_SECOND: '1000', POLL_CONCURRENCY: '16', POLL_TIME_BUDGET_SECONDS: '600' },
    });
  });
  afterAll(async () => stack?.stop());

  const { get, post } = documentedCalls(() => stack);
  /** POST /fleet/scans as an operator sends it: no body, no signature (it is not a billing-system webhook). */
  const requestScan = () =>
    post('/fleet/scans', '', {
      contentType: null,
      headers: { 'webhook-id': null, 'webhook-timestamp': null, 'webhook-signature': null },
    });
  const csvOf = (path: string) => get(path, { accept: 'text/csv' });

  function fieldsOf(response: HttpAnswer): string[] {
    expect(response.status).toBe(400);
    const problem = response.body as ProblemBody;
    expect(problem.type).toBe('urn:azure-plan-upgrades:problem:validation');
    return (problem.errors ?? []).map((e) => e.field).sort();
  }

  /** Every page of the JSON listing, following the continuation token. */
  async function listAll(query: string, pageSize: number): Promise<{ items: FleetCustomer[]; pages: number }> {
    const items: FleetCustomer[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const tokenPart = token ? `&continuationToken=${encodeURIComponent(token)}` : '';
      const response = await get(`/fleet/customers?pageSize=${pageSize}${query}${tokenPart}`);
      expect(response.status).toBe(200);
      const page = response.body as CustomerPage;
      expect(page.items.length).toBeLessThanOrEqual(pageSize);
      items.push(...page.items);
      token = page.continuationToken;
      pages++;
    } while (token && pages < 1_000);
    return { items, pages };
  }

  /** The CSV parsed by a standard parser: one record per row, by header. */
  function csvRecords(text: string): Record<string, string>[] {
    return parse(text, { columns: true, record_delimiter: '\r\n' });
  }

  /** A JSON listing item as its CSV record must read: every field as text, resellers space-separated, formulas guarded. */
  function asCsv(item: FleetCustomer, headers: string[]): Record<string, string> {
    const record: Record<string, string> = {};
    for (const header of headers) {
      const value = item[header] as string | number | boolean | string[] | undefined;
      const text = value === undefined ? '' : Array.isArray(value) ? value.join(' ') : String(value);
      record[header] = typeof value === 'string' && /^[=+\-@\t\r]/.test(value) ? `'${text}` : text;
    }
    return record;
  }

  it('before any scan: no current scan, a summary without fleet figures, an empty listing', async () => {
    expect((await get('/fleet/scans/current')).status).toBe(404);
    const summary = await get('/fleet/summary');
    expect(summary.status).toBe(200);
    expect(summary.body).toEqual({ upgrades: { inProgress: 0, completed: 0, failed: 0, cancelled: 0, stale: 0 } });
    expect((await get('/fleet/customers')).body).toEqual({ items: [] });
  });

  it('POST /fleet/scans: 202 with the scan and its Location; a second request while it is not finished: 409 pointing at it', async () => {
    const started = await requestScan();
    expect(started.status).toBe(202);
    const scan = started.body as FleetScan;
    firstScan = scan.scanId;
    expect(started.headers.location).toBe(`/api/fleet/scans/${scan.scanId}`);
    expect(scan).toMatchObject({ state: 'requested', trigger: 'on-demand', customers: { seen: 0, checked: 0 } });
    expect(scan.estimate).toBeUndefined(); // a first scan: nothing says how many customers there are
    expect(stack.telemetry.named('FleetScanRequested')).toEqual([
      expect.objectContaining({ properties: { scanId: scan.scanId, trigger: 'on-demand' } }),
    ]);

    const again = await requestScan();
    expect(again.status).toBe(409);
    expect(again.headers.location).toBe(started.headers.location);
    expect(again.body).toMatchObject({ type: 'urn:azure-plan-upgrades:problem:conflict', scanId: scan.scanId });
    expect((await get(started.headers.location.replace(/^\/api/, ''))).body).toMatchObject({
      scanId: scan.scanId,
      state: 'requested',
    });
    // Nothing was asked of Partner Center: the timer run does the scan.
    expect(stack.sim.state.counters().requests.customers?.total ?? 0).toBe(0);
  });

  it('the timer run scans; the scan reads completed, its counts equal to the ground truth and to the calls made', async () => {
    stack.sim.state.resetCounters();
    await stack.runByAdmin('pollUpgrades');
    const response = await get(`/fleet/scans/${firstScan.toUpperCase()}`);
    expect(response.status).toBe(200);
    const scan = response.body as FleetScan;
    expect(scan).toMatchObject({
      scanId: firstScan,
      state: 'completed',
      customers: { seen: CUSTOMERS, checked: CUSTOMERS, expected: CUSTOMERS, remaining: 0 },
      timerRuns: 1,
      throttled: 0,
    });
    expect(scan.estimate).toBeUndefined();
    const byState: Record<string, number> = {};
    const byReason: Record<string, number> = {};
    for (const truth of truths(stack.sim)) {
      const { state, reason } = expectedMeaning(truth);
      byState[state] = (byState[state] ?? 0) + 1;
      if (reason) byReason[reason] = (byReason[reason] ?? 0) + 1;
    }
    expect(scan.byState).toEqual(byState);
    expect(scan.notEligibleByReason).toEqual(byReason);
    // The calls by kind are the requests the simulator served.
    const served = stack.sim.state.counters().requests;
    const calls = scan.partnerCenterCalls;
    expect({
      customers: calls.customers,
      usageRecords: calls.usageRecords,
      subscriptions: calls.subscriptions,
      agreements: calls.agreements,
      eligibility: calls.eligibility,
    }).toEqual({
      customers: served.customers?.total,
      usageRecords: served.usageRecords?.total,
      subscriptions: served.subscriptions?.total,
      agreements: served.agreements?.total,
      eligibility: served.eligibility?.total,
    });
    expect(calls.total).toBe(Object.values(calls).reduce((sum, n) => sum + n, 0) - calls.total);
    expect((await get('/fleet/scans/current')).body).toEqual(scan);
    // The scan's end event carries the reasons the workbook charts.
    const [completed] = stack.telemetry.named('FleetScanCompleted');
    for (const [reason, count] of Object.entries(byReason)) {
      expect(completed.measurements[`reason:${reason}`]).toBe(count);
    }
  });

  it('GET /fleet/summary: the fleet from the last completed scan, the upgrades from the tracking', async () => {
    const response = await get('/fleet/summary');
    expect(response.status).toBe(200);
    const all = truths(stack.sim).map(expectedMeaning);
    const count = (state: string) => all.filter((m) => m.state === state).length;
    const inProgress = count('upgrade-in-progress');
    expect(inProgress).toBeGreaterThan(0);
    expect(response.body).toMatchObject({
      fleet: {
        scanId: firstScan,
        customers: CUSTOMERS,
        onAzurePlan: count('on-azure-plan'),
        legacyRemaining: count('eligible') + count('not-eligible') + inProgress,
        eligible: count('eligible'),
        notEligible: count('not-eligible'),
        upgradeInProgress: inProgress,
      },
      // Every upgrade the scan found was handed to the tracking: recorded, not final yet.
      upgrades: { inProgress, completed: 0, failed: 0, cancelled: 0, stale: 0 },
      scan: { scanId: firstScan, state: 'completed', href: `/api/fleet/scans/${firstScan}` },
    });
  });

  it('GET /fleet/customers: every customer once, in id order, paged; filters by state and reason', async () => {
    const { items, pages } = await listAll('', 300);
    expect(pages).toBeGreaterThanOrEqual(7);
    const ids = items.map((item) => item.customerId);
    expect(ids).toEqual([...ids].sort());
    const all = truths(stack.sim);
    expect(new Set(ids)).toEqual(new Set(all.map((t) => t.id)));
    const byId = new Map(items.map((item) => [item.customerId, item]));
    for (const truth of all) {
      const item = byId.get(truth.id)!;
      const expected = expectedMeaning(truth);
      expect({ id: truth.id, state: item.state, reason: item.reason, upgradeId: item.upgradeId }).toEqual({
        id: truth.id,
        ...expected,
        reason: expected.reason,
        upgradeId: expected.upgradeId,
      });
    }
    expect(byId.get(all[0].id)?.companyName).toBe(TRICKY_NAMES[0]);

    const suspended = await listAll('&state=not-eligible&reason=suspended-subscriptions', 50);
    expect(suspended.items.length).toBe(items.filter((i) => i.reason === 'suspended-subscriptions').length);
    expect(suspended.items.length).toBeGreaterThan(0);
    expect(suspended.items.every((i) => i.state === 'not-eligible' && i.reason === 'suspended-subscriptions')).toBe(
      true,
    );
    expect((await listAll('&reason=no-customer-agreement', 1000)).items).toEqual(
      items.filter((i) => i.reason === 'no-customer-agreement'),
    );
    expect((await listAll('&state=advisor', 1000)).items).toEqual(items.filter((i) => i.state === 'advisor'));
  });

  it(`the CSV export of ${CUSTOMERS.toLocaleString('en')} customers parses with a standard CSV parser and equals the JSON listing row by row`, async () => {
    const response = await csvOf('/fleet/customers');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8; header=present');
    expect(response.headers['content-disposition']).toBe('attachment; filename="fleet-customers.csv"');
    expect(response.text.startsWith('customerId,companyName,domain,')).toBe(true);
    expect(response.text.endsWith('\r\n')).toBe(true);
    const records = csvRecords(response.text);
    const { items } = await listAll('', 1000);
    expect(records).toHaveLength(CUSTOMERS);
    const headers = Object.keys(records[0]);
    // Every field the JSON shows is a column.
    for (const item of items) for (const field of Object.keys(item)) expect(headers).toContain(field);
    expect(records).toEqual(items.map((item) => asCsv(item, headers)));
    // The names a spreadsheet would run as formulas come with their guard; the others as they are.
    const names = new Map(records.map((r) => [r.customerId, r.companyName]));
    const tricky = truths(stack.sim).slice(0, TRICKY_NAMES.length);
    expect(tricky.map((t) => names.get(t.id))).toEqual([
      `'${TRICKY_NAMES[0]}`,
      `'${TRICKY_NAMES[1]}`,
      `'${TRICKY_NAMES[2]}`,
      `'${TRICKY_NAMES[3]}`,
      `'${TRICKY_NAMES[4]}`,
      TRICKY_NAMES[5],
    ]);

    // A filtered export equals the filtered listing.
    const filtered = await csvOf('/fleet/customers?state=not-eligible');
    expect(csvRecords(filtered.text)).toEqual(
      items.filter((i) => i.state === 'not-eligible').map((item) => asCsv(item, headers)),
    );
    // Preferred over JSON only when the caller says so.
    expect((await get('/fleet/customers?pageSize=1', { accept: 'application/json, text/csv;q=0.5' })).body).toEqual(
      expect.objectContaining({ items: [expect.objectContaining({ customerId: items[0].customerId })] }),
    );
  });

  it('the CSV body is a stream: the handler answers after one page of rows, the next read as the body is read', async () => {
    const counting = new CountingTables(stack.services.tables);
    const services = { ...stack.services, fleet: new FleetStore(counting) };
    const url = 'http://localhost/api/fleet/customers';
    const response = await readFleetCustomers(
      services,
      { url, params: {}, query: new URL(url).searchParams, headers: new Headers({ accept: 'text/csv' }) },
      { warn: () => undefined, error: () => undefined },
    );
    expect(response.status).toBe(200);
    // Answered with one page of customer rows read (1,000; plus the past scan the filter starts from).
    const rowsBefore = counting.rowsRead.get('fleet') ?? 0;
    expect(rowsBefore).toBeLessThanOrEqual(1_000 + 1);
    const text = await new Response(response.body).text();
    expect(csvRecords(text)).toHaveLength(CUSTOMERS);
    expect(counting.rowsRead.get('fleet')).toBe(rowsBefore + CUSTOMERS - 1_000);
  });

  it('a customer no longer listed drops out of the listing and the export', async () => {
    const slot = await stack.services.fleet.readSlot();
    const page = await stack.services.fleet.customerPage({}, { pageSize: 1 });
    // A row an older scan wrote for a customer the last completed scan did not list.
    const ghost = await unlistedCustomer(stack.services.fleet, page.items[0]);
    expect((await stack.services.fleet.readCustomer(ghost))?.customerId).toBe(ghost);
    expect(slot?.scan?.state).toBe('completed');
    const { items } = await listAll('', 1000);
    expect(items).toHaveLength(CUSTOMERS);
    expect(items.some((i) => i.customerId === ghost)).toBe(false);
    expect(csvRecords((await csvOf('/fleet/customers')).text).some((r) => r.customerId === ghost)).toBe(false);
  });

  it('a second scan shows what it expects: the last scan size, and an estimate from the last scan calls per customer', async () => {
    const started = await requestScan();
    expect(started.status).toBe(202);
    const scan = (await get('/fleet/scans/current')).body as FleetScan;
    expect(scan.scanId).toBe((started.body as FleetScan).scanId);
    expect(scan.customers).toEqual({ seen: 0, checked: 0, expected: CUSTOMERS, remaining: CUSTOMERS });
    const previous = (await get(`/fleet/scans/${firstScan}`)).body as FleetScan;
    const perCustomer =
      (previous.partnerCenterCalls.subscriptions +
        previous.partnerCenterCalls.agreements +
        previous.partnerCenterCalls.eligibility) /
      CUSTOMERS;
    expect(scan.estimate).toMatchObject({
      callsPerCustomer: Math.round(perCustomer * 100) / 100,
      callsLeft: Math.ceil(CUSTOMERS * perCustomer) + Math.ceil(CUSTOMERS / 500),
      timerRuns: 1,
    });
    // The summary's fleet stays the completed scan's while the new one has not finished.
    expect((await get('/fleet/summary')).body).toMatchObject({
      fleet: { scanId: firstScan },
      scan: { scanId: scan.scanId, state: 'requested' },
    });
  });

  it('400 naming each field that is not valid', async () => {
    expect(fieldsOf(await get('/fleet/scans/not-a-scan'))).toEqual(['scanId']);
    expect(fieldsOf(await get('/fleet/customers?state=happy'))).toEqual(['state']);
    expect(fieldsOf(await get('/fleet/customers?reason=moon'))).toEqual(['reason']);
    expect(fieldsOf(await get('/fleet/customers?state=eligible&reason=bought-recently'))).toEqual(['reason']);
    for (const size of ['0', '1001', '-1', '2.5', 'many', '']) {
      expect(fieldsOf(await get(`/fleet/customers?pageSize=${size}`))).toEqual(['pageSize']);
    }
    const noKeys = Buffer.from(JSON.stringify({ nextRowKey: 'c!x' })).toString('base64');
    for (const token of ['garbage', noKeys, '%00', 'eyJub3QiOiJhIHRva2VuIn0']) {
      expect(fieldsOf(await get(`/fleet/customers?continuationToken=${encodeURIComponent(token)}`))).toEqual([
        'continuationToken',
      ]);
    }
    expect(fieldsOf(await csvOf('/fleet/customers?pageSize=10&continuationToken=x&state=no'))).toEqual([
      'continuationToken',
      'pageSize',
      'state',
    ]);
  });

  it('404 for a scan nobody asked for', async () => {
    const response = await get(`/fleet/scans/${randomUUID()}`);
    expect(response.status).toBe(404);
    expect((response.body as ProblemBody).type).toBe('urn:azure-plan-upgrades:problem:not-found');
  });

  it('Table Storage down: 503 problem details with Retry-After on every fleet endpoint, the CSV too', async () => {
    const connectionString = await deadStorageConnectionString();
    resetServices(stackServices({ ...stack.settings, AzureWebJobsStorage: connectionString }));
    try {
      const responses = await Promise.all([
        requestScan(),
        get('/fleet/scans/current'),
        get('/fleet/summary'),
        get('/fleet/customers'),
        csvOf('/fleet/customers'),
      ]);
      for (const response of responses) {
        expect(response.status).toBe(503);
        expect((response.body as ProblemBody).type).toBe('urn:azure-plan-upgrades:problem:dependency-unavailable');
        expect(response.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      }
    } finally {
      stack.install();
    }
  }, 60_000);
});
