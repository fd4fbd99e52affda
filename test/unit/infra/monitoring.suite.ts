import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHttpHeaders, createPipelineRequest } from '@azure/core-rest-pipeline';
import { silentLogger } from '../../../shared/partner-center/logger';
import { partnerCenterTelemetryPolicy } from '../../../shared/partner-center/policies/telemetry';
import { POLL_RUN_MEASUREMENTS, TELEMETRY_EVENTS } from '../../../shared/telemetry/events';
import { RecordingTelemetry } from '../../../dev/recording-telemetry';
import {
  asArray,
  asNumbers,
  asObject,
  declaration,
  exprOf,
  get,
  readBicep,
  REPO_ROOT,
  resources,
  valueOf,
  type BicepValue,
} from './bicep';

/** Custom event names a KQL query filters on: `name == "X"` and `name in ("X", "Y")`. */
export function eventNames(query: string): string[] {
  const names: string[] = [];
  for (const match of query.matchAll(/\bname\s*==\s*"([^"]+)"/g)) names.push(match[1]);
  for (const match of query.matchAll(/\bname\s+in\s*\(([^)]*)\)/g)) {
    for (const quoted of match[1].matchAll(/"([^"]+)"/g)) names.push(quoted[1]);
  }
  return names;
}

function minutes(isoDuration: string): number {
  const match = /^PT(?:(\d+)H)?(?:(\d+)M)?$/.exec(isoDuration);
  if (!match) throw new Error(`not a PT..H..M duration: ${isoDuration}`);
  return Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

export const monitoring = readBicep('infra/app/monitoring.bicep');

/** The host the alert filters on for the default partnerCenterApiUrl (what the `partnerCenterHost` var computes). */
export function declarationHost(): string {
  return new URL(exprOf(valueOf(monitoring, 'param', 'partnerCenterApiUrl'))).host;
}
export const alerts = asArray(valueOf(monitoring, 'var', 'alerts')).map(
  (a): Record<string, BicepValue> & { query: string } => {
    const alert = asObject(a);
    return { ...alert, query: exprOf(alert.query) };
  },
);
export const workbook = JSON.parse(readFileSync(join(REPO_ROOT, 'infra/app/workbook.json'), 'utf8')) as {
  version: string;
  items: {
    type: number;
    name: string;
    content: { query?: string; title?: string; parameters?: { name: string; type: number; value?: unknown }[] };
  }[];
};
export const workbookQueries = workbook.items.filter((item) => item.type === 3).map((item) => item.content.query ?? '');

describe('alert rules (infra/app/monitoring.bicep)', () => {
  it('name only custom events the app emits (shared/telemetry/events.ts)', () => {
    const named = alerts.flatMap((a) => eventNames(a.query));
    expect(named.length).toBeGreaterThan(0);
    for (const name of named) expect(TELEMETRY_EVENTS).toContain(name);
    // Every query on customEvents filters by event name, so the check above covers it.
    for (const a of alerts.filter((x) => x.query.includes('customEvents'))) {
      expect(eventNames(a.query).length).toBeGreaterThan(0);
    }
  });

  it.each([
    ['failed upgrades', 'UpgradeFailed', 'GreaterThan'],
    ['stale upgrades', 'UpgradeStale', 'GreaterThan'],
    ['a silent poller (no heartbeat)', 'PollRunCompleted', 'LessThan'],
    ['poison-queue messages', 'PoisonMessage', 'GreaterThan'],
    ['an invalid refresh token', 'RefreshTokenInvalid', 'GreaterThan'],
    ['a burst of webhook signature failures', 'WebhookSignatureRejected', 'GreaterThan'],
  ])('alert on %s', (_what, event, operator) => {
    const matching = alerts.filter((a) => eventNames(a.query).includes(event));
    expect(matching).toHaveLength(1);
    expect(matching[0].operator).toBe(operator);
  });

  it('alerts on a burst of signature failures, not on one (a sender retries a stale request now and then)', () => {
    const rejected = alerts.find((a) => eventNames(a.query).includes('WebhookSignatureRejected'))!;
    expect(rejected.threshold).toEqual({ expr: 'signatureRejectedThreshold' });
    expect(valueOf(monitoring, 'param', 'signatureRejectedThreshold')).toBeGreaterThanOrEqual(5);
    expect(minutes(exprOf(rejected.windowSize))).toBeLessThanOrEqual(15);
  });

  it('alerts on a high rate of Partner Center 429s, from dependencies on the Partner Center host', () => {
    const throttling = alerts.filter((a) => a.query.startsWith("'dependencies"));
    expect(throttling).toHaveLength(1);
    expect(throttling[0].query).toContain('target has "${partnerCenterHost}"');
    expect(throttling[0].query).toContain('resultCode == "429"');
    expect(declaration(monitoring, 'var', 'partnerCenterHost').node.text).toContain('partnerCenterApiUrl');
  });

  it('matches the dependency the Partner Center client reports for a throttled call', async () => {
    const telemetry = new RecordingTelemetry();
    const policy = partnerCenterTelemetryPolicy(telemetry, silentLogger);
    const request = createPipelineRequest({
      url: 'https://api.partnercenter.microsoft.com/v1/productUpgrades/eligibility',
      method: 'POST',
    });
    await policy.sendRequest(request, (sent) =>
      Promise.resolve({ request: sent, status: 429, headers: createHttpHeaders({ 'retry-after': '1' }) }),
    );
    const [call] = telemetry.dependencies;
    // The alert's `target has "<host>"` and `resultCode == "429"` (App Insights stores the code as text).
    expect(call.target).toBe(declarationHost());
    expect(String(call.resultCode)).toBe('429');
  });

  it('fires the heartbeat alert no earlier than three poll intervals', () => {
    const windows = asObject(valueOf(monitoring, 'var', 'heartbeatWindows'));
    const allowed = asNumbers(declaration(monitoring, 'param', 'pollIntervalMinutes').decoratorArgs.allowed[0]);
    const mainAllowed = asNumbers(
      declaration(readBicep('infra/main.bicep'), 'param', 'pollIntervalMinutes').decoratorArgs.allowed[0],
    );
    expect(allowed).toEqual(mainAllowed);
    for (const interval of allowed) {
      const window = minutes(exprOf(windows[String(interval)]));
      expect(window).toBeGreaterThanOrEqual(3 * interval);
      expect(window).toBeGreaterThanOrEqual(5); // the evaluation frequency
    }
    const heartbeat = alerts.find((a) => eventNames(a.query).includes('PollRunCompleted'))!;
    expect(heartbeat.windowSize).toEqual({ expr: 'heartbeatWindow' });
    expect(heartbeat.threshold).toBe(1);
  });

  it('evaluates each rule at most as often as its window and sends it to the action group', () => {
    for (const a of alerts) {
      if (typeof a.windowSize === 'string') {
        expect(minutes(a.windowSize)).toBeGreaterThanOrEqual(minutes(exprOf(a.evaluationFrequency)));
      }
    }
    const rules = resources(monitoring).find((r) => r.type.startsWith('Microsoft.Insights/scheduledQueryRules'))!;
    expect(get(rules.value, 'properties.actions.actionGroups')).toEqual([{ expr: 'actionGroup.id' }]);
    expect(get(rules.value, 'properties.scopes')).toEqual([{ expr: 'appInsights.id' }]);
    expect(get(rules.value, 'properties.criteria.allOf')).toEqual([
      expect.objectContaining({ query: { expr: 'alert.query' }, operator: { expr: 'alert.operator' } }),
    ]);
    const group = resources(monitoring).find((r) => r.type.startsWith('Microsoft.Insights/actionGroups'))!;
    expect(exprOf(get(group.value, 'properties.emailReceivers'))).toContain('emailAddress: alertEmail');
  });
});

describe('workbook (infra/app/workbook.json)', () => {
  it('is a workbook deployed with the app from this file', () => {
    expect(workbook.version).toBe('Notebook/1.0');
    const deployed = resources(monitoring).find((r) => r.type.startsWith('Microsoft.Insights/workbooks'))!;
    expect(get(deployed.value, 'properties.serializedData')).toEqual({ expr: "loadTextContent('workbook.json')" });
    expect(get(deployed.value, 'properties.sourceId')).toEqual({ expr: 'appInsights.id' });
  });

  it('names only custom events the app emits, and every query item has a query', () => {
    expect(workbookQueries.length).toBeGreaterThan(5);
    for (const query of workbookQueries) {
      expect(query.trim().length).toBeGreaterThan(0);
      for (const name of eventNames(query)) expect(TELEMETRY_EVENTS).toContain(name);
    }
  });

  it('reads only custom properties the app sets somewhere in shared/ (catches renamed properties)', () => {
    const source = sourceFiles(join(REPO_ROOT, 'shared'))
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n')
      // Comments out: only code counts.
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/(^|[^:])\/\/.*$/gm, '$1');
    const properties = new Set(
      [...workbookQueries, ...alerts.map((a) => a.query)].flatMap((q) =>
        // customDimensions.name, or customDimensions["name"] for a name that is a KQL keyword (`to`).
        [...q.matchAll(/customDimensions(?:\.(\w+)|\["(\w+)"\])/g)].map((m) => m[1] ?? m[2]),
      ),
    );
    expect(properties.size).toBeGreaterThan(3);
    for (const property of properties) {
      // `property: value`, shorthand `{ property, ...}` or a quoted key.
      expect([property, new RegExp(`(\\b${property}\\s*[:,}])|'${property}'`).test(source)]).toEqual([property, true]);
    }
  });

  it('declares the parameters its queries use', () => {
    const parameters = workbook.items.flatMap((item) => item.content.parameters ?? []).map((p) => p.name);
    for (const query of workbookQueries) {
      for (const match of query.matchAll(/\{(\w+)(?::\w+)?\}/g)) expect(parameters).toContain(match[1]);
    }
  });

  const has = (predicate: (query: string) => boolean): boolean => workbookQueries.some(predicate);

  it('shows upgrades by status over time', () => {
    expect(has((q) => eventNames(q).includes('UpgradeStatusChanged') && q.includes('timechart'))).toBe(true);
  });

  it('shows eligibility checks and their reasons', () => {
    expect(has((q) => eventNames(q).includes('EligibilityChecked') && q.includes('customDimensions.reason'))).toBe(
      true,
    );
  });

  it('shows poll runs: duration, throughput and throttling, from every PollRunCompleted measurement', () => {
    const pollQueries = workbookQueries.filter((q) => eventNames(q).includes('PollRunCompleted'));
    const measured = new Set(
      pollQueries.flatMap((q) => [...q.matchAll(/customMeasurements\.(\w+)/g)].map((m) => m[1])),
    );
    expect([...measured].sort()).toEqual([...POLL_RUN_MEASUREMENTS].sort());
  });

  it('shows Partner Center latency and errors from dependencies', () => {
    expect(has((q) => q.startsWith('dependencies') && q.includes('percentile(duration'))).toBe(true);
    expect(has((q) => q.startsWith('dependencies') && q.includes('resultCode == "429"'))).toBe(true);
  });

  it('shows webhook signature failures by reason and endpoint', () => {
    expect(
      has(
        (q) =>
          eventNames(q).includes('WebhookSignatureRejected') &&
          q.includes('customDimensions.reason') &&
          q.includes('customDimensions.endpoint'),
      ),
    ).toBe(true);
  });

  it('shows callbacks', () => {
    for (const event of ['CallbackDelivered', 'CallbackRejected', 'CallbackFailed']) {
      expect(has((q) => eventNames(q).includes(event))).toBe(true);
    }
  });
});
