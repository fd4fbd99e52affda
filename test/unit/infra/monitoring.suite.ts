import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHttpHeaders, createPipelineRequest } from '@azure/core-rest-pipeline';
import { silentLogger } from '../../../shared/partner-center/logger';
import { partnerCenterTelemetryPolicy } from '../../../shared/partner-center/policies/telemetry';
import { FLEET_STATES, NOT_ELIGIBLE_REASONS } from '../../../shared/fleet';
import { POLL_RUN_MEASUREMENTS, TELEMETRY_EVENTS, WAVE_EVENT_FIELDS } from '../../../shared/telemetry/events';
import { RecordingTelemetry } from '../../../dev/recording-telemetry';
import {
  asArray,
  asNumbers,
  asObject,
  declaration,
  declarations,
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

/**
 * An alert query as Azure runs it: Bicep interpolations (`${name}`) filled in with the template's params' defaults
 * and vars' literal values (themselves interpolated), the Partner Center host from the default URL.
 */
export function deployedQuery(query: string): string {
  const fill = (text: string): string =>
    text.replace(/\$\{(\w+)\}/g, (_m, name: string) => {
      if (name === 'partnerCenterHost') return declarationHost();
      const declared = declarations(monitoring).find(
        (d) => (d.kind === 'param' || d.kind === 'var') && d.name === name,
      );
      if (!declared) throw new Error(`monitoring.bicep: no value for \${${name}} in an alert query`);
      const value = valueOf(monitoring, declared.kind, name);
      if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`${name} has no literal value`);
      return fill(String(value));
    });
  // A query with an interpolation is an expression: its text is the quoted Bicep string.
  return fill(query.replace(/^'([\s\S]*)'$/, (_m, inner: string) => inner.replace(/\\'/g, "'")));
}

export interface WorkbookItem {
  type: number;
  name: string;
  content: {
    query?: string;
    title?: string;
    parameters?: { name: string; type: number; value?: unknown }[];
    items?: WorkbookItem[];
    links?: { cellValue: string; linkTarget: string; linkLabel: string; subTarget: string }[];
    style?: string;
    timeContextFromParameter?: string;
    visualization?: string;
  };
  conditionalVisibility?: { parameterName: string; comparison: string; value: string };
}
export const workbook = JSON.parse(readFileSync(join(REPO_ROOT, 'infra/app/workbook.json'), 'utf8')) as {
  version: string;
  items: WorkbookItem[];
};
/** Every item of the workbook, those in groups (its tabs) too. */
function flatten(items: WorkbookItem[]): WorkbookItem[] {
  return items.flatMap((item) => [item, ...flatten(item.content.items ?? [])]);
}
export const workbookItems = flatten(workbook.items);
export const workbookQueries = workbookItems.filter((item) => item.type === 3).map((item) => item.content.query ?? '');
/** The query items of one tab (the group shown when that tab is selected). */
function tabQueries(tab: string): WorkbookItem[] {
  const group = workbook.items.find((item) => item.type === 12 && item.conditionalVisibility?.value === tab);
  return flatten(group?.content.items ?? []).filter((item) => item.type === 3);
}

/** The events an alert is about: those its first filter names (a condition further on may name others). */
function subjectOf(query: string): string[] {
  return eventNames(query.split('|').slice(0, 2).join('|'));
}

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

  it('name only emitted custom events in the queries as deployed (conditions kept in vars included)', () => {
    for (const a of alerts) {
      for (const name of eventNames(deployedQuery(a.query))) expect(TELEMETRY_EVENTS).toContain(name);
    }
  });

  it.each([
    ['failed upgrades', 'UpgradeFailed', 'GreaterThan'],
    ['stale upgrades', 'UpgradeStale', 'GreaterThan'],
    ['a silent poller (no heartbeat)', 'PollRunCompleted', 'LessThan'],
    ['poison-queue messages', 'PoisonMessage', 'GreaterThan'],
    ['an invalid refresh token', 'RefreshTokenInvalid', 'GreaterThan'],
    ['a burst of webhook signature failures', 'WebhookSignatureRejected', 'GreaterThan'],
    ['a failed fleet scan', 'FleetScanFailed', 'GreaterThan'],
  ])('alert on %s', (_what, event, operator) => {
    // The stuck alerts name every event of a scan or wave: they are about progress missing (tested below).
    const matching = alerts.filter((a) => a.lookback === undefined && subjectOf(a.query).includes(event));
    expect(matching).toHaveLength(1);
    expect(matching[0].operator).toBe(operator);
  });

  it('alerts on a burst of signature failures, not on one (a sender retries a stale request now and then)', () => {
    const rejected = alerts.find((a) => eventNames(a.query).includes('WebhookSignatureRejected'))!;
    expect(rejected.threshold).toEqual({ expr: 'signatureRejectedThreshold' });
    expect(valueOf(monitoring, 'param', 'signatureRejectedThreshold')).toBeGreaterThanOrEqual(5);
    expect(minutes(exprOf(rejected.windowSize))).toBeLessThanOrEqual(15);
  });

  describe.each([
    ['scan', 'fleet-scan-stuck', 'FleetScanProgress', 'scanStuckHours', 2, ['FleetScanCompleted', 'FleetScanFailed']],
    ['wave', 'wave-stuck', 'WaveProgress', 'waveStuckHours', 6, ['WaveCompleted', 'WaveCancelled', 'WavePaused']],
  ])('a stuck %s', (_what, name, progress, hoursParam, hours, settled) => {
    const alert = () => alerts.find((a) => exprOf(a.name) === name)!;

    it(`fires for one not settled with no ${progress} for ${hours} hours (a parameter), while the timer runs`, () => {
      const query = deployedQuery(alert().query);
      expect(subjectOf(alert().query)).toContain(progress);
      for (const event of settled) expect(eventNames(query)).toContain(event);
      expect(valueOf(monitoring, 'param', hoursParam)).toBe(hours);
      expect(alert().query).toContain(`ago(\${${hoursParam}}h)`);
      expect(query).toContain(`ago(${hours}h)`);
      // While the timer runs: a poll run completed lately (a dead timer is the heartbeat alert's).
      expect(query).toMatch(/toscalar\(customEvents \| where name == "PollRunCompleted" and timestamp > ago\(30m\)/);
      expect(alert().operator).toBe('GreaterThan');
    });

    it('looks back further than its threshold (its window alone is shorter)', () => {
      const lookback = exprOf(valueOf(monitoring, 'var', exprOf(alert().lookback)));
      expect(lookback).toMatch(/^P(\d+)D$/);
      expect(Number(/^P(\d+)D$/.exec(lookback)![1]) * 24).toBeGreaterThan(hours);
      const rules = resources(monitoring).find((r) => r.type.startsWith('Microsoft.Insights/scheduledQueryRules'))!;
      expect(get(rules.value, 'properties.overrideQueryTimeRange')).toEqual({ expr: 'alert.?lookback' });
    });
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
    const heartbeat = alerts.find((a) => subjectOf(a.query).includes('PollRunCompleted'))!;
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
    const parameters = workbookItems.flatMap((item) => item.content.parameters ?? []).map((p) => p.name);
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

  it('has two tabs, Upgrades and Fleet, each showing its own group of items', () => {
    const tabs = workbook.items.find((item) => item.type === 11 && item.content.style === 'tabs')!;
    const links = tabs.content.links!;
    expect(links.map((l) => [l.linkLabel, l.subTarget])).toEqual([
      ['Upgrades', 'upgrades'],
      ['Fleet', 'fleet'],
    ]);
    for (const link of links) {
      expect(link).toMatchObject({ cellValue: 'selectedTab', linkTarget: 'parameter' });
      expect(tabQueries(link.subTarget).length).toBeGreaterThan(3);
    }
    // Every query is on a tab.
    expect(tabQueries('upgrades').length + tabQueries('fleet').length).toBe(workbookQueries.length);
  });

  describe('the Fleet tab', () => {
    const fleet = () => tabQueries('fleet');
    const find = (predicate: (query: string, item: WorkbookItem) => boolean) =>
      fleet().filter((item) => predicate(item.content.query ?? '', item));

    it('shows the customers with legacy Azure left to move over time, scan by scan', () => {
      const over = find(
        (q, item) => eventNames(q).includes('FleetScanCompleted') && item.content.visualization === 'timechart',
      );
      expect(over).toHaveLength(1);
      const query = over[0].content.query!;
      for (const state of ['eligible', 'not-eligible', 'upgrade-in-progress']) {
        expect(query).toContain(`customMeasurements["state:${state}"]`);
      }
      expect(query).toMatch(/legacyRemaining = /);
    });

    it('shows why customers cannot move, from the latest completed scan', () => {
      const reasons = find((q) => eventNames(q).includes('FleetScanCompleted') && q.includes('"reason:"'));
      expect(reasons).toHaveLength(1);
      expect(reasons[0].content.query).toContain('top 1 by timestamp desc');
    });

    it('reads only the state:* and reason:* measurements a scan writes', () => {
      const keys = fleet().flatMap((item) =>
        [...(item.content.query ?? '').matchAll(/customMeasurements\["((?:state|reason):[^"]+)"\]/g)].map((m) => m[1]),
      );
      expect(keys.length).toBeGreaterThan(0);
      const written = [...FLEET_STATES.map((s) => `state:${s}`), ...NOT_ELIGIBLE_REASONS.map((r) => `reason:${r}`)];
      for (const key of keys) expect(written).toContain(key);
    });

    it('shows each wave: members, upgrades created, skipped, completed and failed', () => {
      const waves = find((q) =>
        ['WaveCreated', 'WaveProgress', 'WaveCompleted'].every((e) => eventNames(q).includes(e)),
      );
      expect(waves).toHaveLength(1);
      const query = waves[0].content.query!;
      for (const measurement of ['members', 'created', 'skipped', 'completed', 'failed']) {
        expect(query).toContain(`customMeasurements.${measurement}`);
      }
    });

    it('shows the time to complete per wave, p50 and p95, from the upgrades a wave started', () => {
      const durations = find(
        (q) => eventNames(q).includes('UpgradeCompleted') && q.includes('customDimensions.waveId'),
      );
      expect(durations).toHaveLength(1);
      const query = durations[0].content.query!;
      expect(eventNames(query)).toContain('UpgradeFailed');
      expect(query).toContain('customMeasurements.durationMs');
      expect(query).toMatch(/percentile\([^)]*, 50\)/);
      expect(query).toMatch(/percentile\([^)]*, 95\)/);
      expect(query).toMatch(/by waveId/);
    });

    it('reads of the wave events only the fields they carry (WAVE_EVENT_FIELDS)', () => {
      const carried = new Set<string>(Object.values(WAVE_EVENT_FIELDS.measurements).flat());
      for (const item of fleet()) {
        const query = item.content.query ?? '';
        if (!eventNames(query).some((e) => e.startsWith('Wave')) && !query.includes('waveId')) continue;
        for (const m of query.matchAll(/customMeasurements\.(\w+)/g)) expect(carried).toContain(m[1]);
        for (const m of query.matchAll(/customDimensions\.(\w+)/g)) {
          expect(WAVE_EVENT_FIELDS.properties as readonly string[]).toContain(m[1]);
        }
      }
    });

    it('shows the scans: state, customers checked, Partner Center calls and 429s', () => {
      const scans = find((q) => ['FleetScanProgress', 'FleetScanFailed'].every((e) => eventNames(q).includes(e)));
      expect(scans).toHaveLength(1);
      for (const measurement of ['checked', 'callsThisRun', 'throttledThisRun']) {
        expect(scans[0].content.query).toContain(`customMeasurements.${measurement}`);
      }
    });
  });
});
