/**
 * `npm run bench`: the poller against the rate limit (and a naive sequential baseline), over the limit, calls per
 * upgrade over a realistic life, the fleet scan against the rate limit, webhook overhead, a fleet wave end to end,
 * cold start and package size. Prints a table and writes bench/results/latest.json. Flags: --quick (about 4
 * minutes), --only=poller,overlimit,life,scan,webhook,wave,coldstart, --repeats=N, --no-10k, --out=path. See
 * bench/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { benchColdStart, type ColdStartResult } from './cold-start';
import { benchLife, type LifeCase, type LifeResult } from './life';
import { loadAverage, machineInfo } from './machine';
import { benchPollerCase, type PollerCase, type PollerCaseResult } from './poller';
import { benchScanCase, type ScanCase, type ScanCaseResult } from './scan';
import { stackSettings } from '../dev/stack';
import { withAzurite } from './stack';
import type { Figure } from './stats';
import { benchWave, type WaveCase, type WaveResult } from './wave';
import { benchWebhook, type WebhookCase, type WebhookResult } from './webhook';

type Section = 'poller' | 'overlimit' | 'life' | 'scan' | 'webhook' | 'wave' | 'coldstart';
const SECTIONS: Section[] = ['poller', 'overlimit', 'life', 'scan', 'webhook', 'wave', 'coldstart'];

interface Options {
  quick: boolean;
  only: Section[];
  repeats?: number;
  tenK: boolean;
  out: string;
}

function parseOptions(argv: string[]): Options {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`unknown argument ${arg} (see bench/README.md)`);
    flags.set(match[1], match[2] ?? 'true');
  }
  const known = new Set(['quick', 'only', 'repeats', 'no-10k', 'out']);
  for (const name of flags.keys()) if (!known.has(name)) throw new Error(`unknown flag --${name}`);
  const only =
    flags
      .get('only')
      ?.split(',')
      .map((s) => s.trim()) ?? SECTIONS;
  for (const s of only) if (!SECTIONS.includes(s as Section)) throw new Error(`--only: unknown section ${s}`);
  const repeats = flags.has('repeats') ? Number(flags.get('repeats')) : undefined;
  if (repeats !== undefined && !(Number.isInteger(repeats) && repeats >= 1)) throw new Error('--repeats needs N >= 1');
  const quick = flags.has('quick');
  return {
    quick,
    only: only as Section[],
    repeats,
    tenK: !quick && !flags.has('no-10k'),
    out: flags.get('out') ?? path.resolve(__dirname, '..', '..', 'bench', 'results', 'latest.json'),
  };
}

/** L = 100 ms with jitter: 75 ms + uniform [0, 50] ms (mean 100 ms), on every status call. */
const LATENCY = { latencyMs: 75, jitterMs: 50 };

function pollerCases(options: Options): { atLimit: PollerCase[]; overLimit: PollerCase[] } {
  const r = (full: number, quick: number) => options.repeats ?? (options.quick ? quick : full);
  const atLimit: PollerCase[] = [
    {
      name: 'n1k',
      upgrades: options.quick ? 200 : 1000,
      limitPerSecond: 20,
      configuredRate: 20,
      concurrency: 32,
      ...LATENCY,
      repeats: r(3, 1),
      baselineSample: options.quick ? 20 : 60,
    },
    {
      name: 'n1kc8',
      upgrades: options.quick ? 100 : 300,
      limitPerSecond: 20,
      configuredRate: 20,
      concurrency: 8,
      ...LATENCY,
      repeats: r(3, 1),
      baselineSample: 0,
    },
  ];
  if (options.tenK) {
    // 10,000 at 20/s is >= 500 s per run: run once (see bench/README.md).
    atLimit.push({
      name: 'n10k',
      upgrades: 10_000,
      limitPerSecond: 20,
      configuredRate: 20,
      concurrency: 32,
      ...LATENCY,
      repeats: 1,
      baselineSample: 0,
    });
  }
  const overLimit: PollerCase[] = [
    {
      name: 'over',
      upgrades: options.quick ? 200 : 400,
      limitPerSecond: 20,
      configuredRate: 30,
      concurrency: 32,
      ...LATENCY,
      repeats: r(3, 1),
      baselineSample: 0,
    },
    {
      // Twice the limit: the first cut (halving) lands exactly on it.
      name: 'over2x',
      upgrades: options.quick ? 200 : 400,
      limitPerSecond: 20,
      configuredRate: 40,
      concurrency: 32,
      ...LATENCY,
      repeats: r(3, 1),
      baselineSample: 0,
    },
  ];
  return { atLimit, overLimit };
}

/**
 * The fleet scan at R = 20/s, L = 100 ms, POLL_CONCURRENCY 8 (the default), one timer run: two sizes, so that memory
 * can be seen flat in N. Each runs once (N = 10,000 takes about 14 minutes at the limit).
 */
function scanCases(options: Options): ScanCase[] {
  const at = (name: string, customers: number): ScanCase => ({
    name,
    customers,
    limitPerSecond: 20,
    concurrency: 8,
    ...LATENCY,
    seed: 41,
  });
  if (options.quick) return [at('n400', 400), at('n1k', 1_000)];
  return options.tenK ? [at('n2k', 2_000), at('n10k', 10_000)] : [at('n2k', 2_000)];
}

interface Target {
  name: string;
  target: string;
  value: string;
  met: boolean | 'n/a';
}

function fmt(value: number | undefined, digits = 2): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

function row(label: string, f: Figure | undefined, digits = 2, unit = ''): string[] {
  if (!f) return [label, '-', '-', '-'];
  return [label, `${fmt(f.median, digits)}${unit}`, `${fmt(f.min, digits)}`, `${fmt(f.max, digits)}`];
}

function printTable(title: string, rows: string[][], log: (line: string) => void): void {
  const header = ['figure', 'median', 'min', 'max'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  log(`\n${title}`);
  log(line(header));
  log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) log(line(r));
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const machine = machineInfo();
  log(
    `bench: ${machine.cpus} cpus (${machine.cpuModel}), ${machine.memoryGiB} GiB, node ${machine.node}, ` +
      `load average ${machine.loadAverageAtStart.join(' / ')}${options.quick ? ' (quick)' : ''}`,
  );
  const started = performance.now();
  const results: Results = { poller: [], overLimit: [], scan: [] };
  const cases = pollerCases(options);
  const lifeCase: LifeCase = {
    upgrades: options.quick ? 15 : 30,
    repeats: options.repeats ?? (options.quick ? 1 : 3),
    tickMinutes: 5,
    minMinutes: 10,
    maxHours: options.quick ? 6 : 24,
  };
  const webhookCase: WebhookCase = {
    repeats: options.repeats ?? (options.quick ? 1 : 3),
    sequential: options.quick ? 60 : 200,
    connections: 16,
    loadSeconds: options.quick ? 3 : 6,
    loadMaxRequests: 5000,
  };
  // A wave of 200 (the most a wave takes) at 300 a minute: 40 s to start; a quick run takes 50.
  const waveCase: WaveCase = {
    members: options.quick ? 50 : 200,
    pace: 300,
    limitPerSecond: 20,
    configuredRate: 20,
    ...LATENCY,
    tickMinutes: 5,
    repeats: options.repeats ?? 1,
  };
  let coldSettings: Record<string, string> = {};
  await withAzurite(async (azurite) => {
    // The app's settings, pointing Partner Center at a port where nothing listens: loading `main` makes no call.
    coldSettings = stackSettings({
      storage: azurite.connectionString,
      partnerCenter: {
        url: 'http://127.0.0.1:9',
        credentials: {
          tenantId: '11111111-1111-4111-8111-111111111111',
          clientId: '22222222-2222-4222-8222-222222222222',
          clientSecret: '',
          refreshToken: '',
        },
      },
    });
    if (options.only.includes('poller')) {
      log('\npoller at the limit (R = 20/s, L = 75 + U[0, 50] ms)');
      for (const spec of cases.atLimit) results.poller.push(await benchPollerCase(azurite, spec, log));
    }
    if (options.only.includes('overlimit')) {
      log('\npoller over the limit (configured 30/s, limit 20/s)');
      for (const spec of cases.overLimit) results.overLimit.push(await benchPollerCase(azurite, spec, log));
    }
    if (options.only.includes('life')) {
      log('\ncalls per upgrade over a life (stepped clock, timer every 5 min)');
      results.life = await benchLife(azurite, lifeCase, log);
    }
    if (options.only.includes('scan')) {
      log('\nfleet scan at the limit (R = 20/s, L = 75 + U[0, 50] ms, one timer run)');
      for (const spec of scanCases(options)) results.scan.push(await benchScanCase(azurite, spec, log));
    }
    if (options.only.includes('webhook')) {
      log('\neligibility webhook through the local host (an Azurite of its own)');
      // A fresh Azurite: by now the run's in-memory Azurite holds the poller's and the scan's tens of thousands of rows
      // and its heap, which slowed every table write of this section about threefold (Table Storage does not slow with
      // what other tables hold). The webhook's latency is what this section measures, not Azurite's garbage.
      results.webhook = await withAzurite((own) => benchWebhook(own, webhookCase, log));
    }
    if (options.only.includes('wave')) {
      log(
        `\na fleet wave of ${waveCase.members} end to end (pace ${waveCase.pace}/min, limit ${waveCase.limitPerSecond}/s)`,
      );
      // Its own Azurite too, for the same reason as the webhook's.
      results.wave = await withAzurite((own) => benchWave(own, waveCase, log));
    }
  });
  if (options.only.includes('coldstart')) {
    log('\ncold start');
    results.coldStart = await benchColdStart(
      { repeats: options.repeats ?? (options.quick ? 2 : 5), bundle: true },
      coldSettings,
      log,
    );
  }
  machine.loadAverageAtEnd = loadAverage();
  machine.finishedAt = new Date().toISOString();
  const targets = evaluateTargets(results);
  report(results, targets, log);
  const document = {
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    // The output path as given, relative to where the command ran: no machine's folder names in the results.
    options: { ...options, out: path.relative(process.cwd(), options.out) },
    durationSeconds: Math.round((performance.now() - started) / 1000),
    machine,
    notes: [
      'Each figure: median over the repeats, with min and max (runs = how many). N = 10,000 at 20/s runs once (>= 500 s); each scan case runs once.',
      'Latency on status calls: 75 ms + uniform [0, 50] ms. Simulator limit: token bucket, 20/s, burst 20, per partner.',
      'The machine is shared (2 cores): read every figure against machine.loadAverageAtStart/End.',
    ],
    targets,
    results,
  };
  mkdirSync(path.dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(document, null, 2)}\n`);
  log(
    `\nwritten ${path.relative(process.cwd(), options.out)} in ${document.durationSeconds} s; load average at end ${machine.loadAverageAtEnd.join(' / ')}`,
  );
}

interface Results {
  poller: PollerCaseResult[];
  overLimit: PollerCaseResult[];
  life?: LifeResult;
  scan: ScanCaseResult[];
  webhook?: WebhookResult;
  wave?: WaveResult;
  coldStart?: ColdStartResult;
}

function evaluateTargets(results: Results): Target[] {
  const targets: Target[] = [];
  const byName = (name: string) => results.poller.find((r) => r.case.name === name);
  const headline = byName('n10k') ?? byName('n1k');
  if (headline) {
    const n = headline.case.upgrades;
    const eff = headline.figures.efficiency.median;
    targets.push({
      name: `poller efficiency (N=${n}, R=20/s, L=100 ms)`,
      target: '>= 0.95',
      value: fmt(eff),
      met: eff >= 0.95,
    });
  }
  for (const r of results.poller) {
    const t = r.figures.throttled429.max;
    targets.push({
      name: `429s at the limit (${r.case.name}, concurrency ${r.case.concurrency})`,
      target: '0',
      value: String(t),
      met: t === 0,
    });
  }
  for (const over of results.overLimit) {
    const longest = over.figures.longestThrottleEpisodeSeconds?.max ?? 0;
    const ratio = (over.case.configuredRate / over.case.limitPerSecond).toFixed(1);
    targets.push({
      name: `back under the limit within one Retry-After (1 s) when configured ${ratio}x over it (${over.case.name})`,
      target: '<= 1 s per 429 episode',
      value:
        `longest episode ${fmt(longest, 2)} s (max over runs); ${fmt(over.figures.throttleEpisodes?.median ?? 0, 0)} ` +
        `episodes, ${fmt(over.figures.throttled429.median, 0)} 429s per run`,
      met: longest <= 1,
    });
  }
  if (headline) {
    const pc = headline.figures.pcCallsPerPoll.median;
    const ops = headline.figures.tableOpsPerPoll.median;
    targets.push({ name: 'Partner Center calls per poll', target: '<= 1', value: fmt(pc), met: pc <= 1 });
    targets.push({
      name: 'table operations per poll (first poll of an upgrade)',
      target: '<= 2',
      value: fmt(ops),
      met: ops <= 2,
    });
  }
  if (results.life) {
    const ops = results.life.figures.tableOpsPerPoll.median;
    targets.push({
      name: 'table operations per poll (over a whole life)',
      target: '<= 2',
      value: fmt(ops),
      met: ops <= 2,
    });
  }
  const largestScan = results.scan.at(-1);
  if (largestScan) {
    const n = largestScan.case.customers;
    const eff = largestScan.figures.efficiency.median;
    targets.push({
      name: `fleet scan efficiency (N=${n}, R=20/s, L=100 ms): bound (calls ÷ R) ÷ drain time`,
      target: '>= 0.95',
      value: `${fmt(eff, 3)} (${fmt(largestScan.figures.drainSeconds.median, 0)} s for ${largestScan.figures.calls.median} calls, bound ${fmt(largestScan.boundSeconds, 0)} s)`,
      met: eff >= 0.95,
    });
  }
  for (const r of results.scan) {
    const t = r.figures.throttled429.max;
    targets.push({
      name: `fleet scan 429s at the limit (N=${r.case.customers})`,
      target: '0',
      value: String(t),
      met: t === 0,
    });
  }
  const scanTenK = results.scan.find((r) => r.case.customers === 10_000);
  if (scanTenK) {
    const m = scanTenK.figures.peakRssMiB.median;
    const smaller = results.scan.find((r) => r.case.customers < 10_000);
    targets.push({
      name: 'fleet scan peak memory (RSS) at N=10,000, flat in N',
      target: '<= 200 MB',
      value:
        `${fmt(m, 0)} MiB` +
        (smaller ? ` (${fmt(smaller.figures.peakRssMiB.median, 0)} MiB at N=${smaller.case.customers})` : ''),
      met: m <= 190.7,
    });
  } else if (results.scan.length > 0) {
    targets.push({
      name: 'fleet scan peak memory (RSS) at N=10,000',
      target: '<= 200 MB',
      value: `not run (${results.scan.map((r) => `${fmt(r.figures.peakRssMiB.median, 0)} MiB at N=${r.case.customers}`).join(', ')})`,
      met: 'n/a',
    });
  }
  if (results.webhook) {
    const o = results.webhook.figures.overheadP99Ms.median;
    targets.push({ name: 'webhook p99 overhead', target: '<= 5 ms', value: `${fmt(o, 1)} ms`, met: o <= 5 });
  }
  if (results.coldStart) {
    const shipped = results.coldStart.figures.bundleEntryLoadMs?.median;
    const tsc = results.coldStart.figures.tscEntryLoadMs.median;
    const l = shipped ?? tsc;
    targets.push({
      name: 'entry load (the deployment package: its bundle)',
      target: '<= 300 ms',
      value: `${fmt(l, 0)} ms (tsc output, before bundling: ${fmt(tsc, 0)} ms)`,
      met: l <= 300,
    });
  }
  if (results.wave) {
    const f = results.wave.figures;
    targets.push({
      name: `429s during a wave of ${results.wave.case.members} with polls (limit ${results.wave.case.limitPerSecond}/s)`,
      target: '0',
      value: String(f.throttled429.max),
      met: f.throttled429.max === 0,
    });
    targets.push({
      name: 'Partner Center calls to start a wave member (eligibility re-check + create)',
      target: '<= 2',
      value: fmt(f.startCallsPerMember.median),
      met: f.startCallsPerMember.median <= 2,
    });
  }
  const tenK = byName('n10k');
  if (tenK) {
    const m = tenK.figures.peakRssMiB.median;
    targets.push({
      name: 'peak memory (RSS) at N=10,000',
      target: '<= 200 MB',
      value: `${fmt(m, 0)} MiB`,
      met: m <= 190.7,
    });
  } else {
    targets.push({ name: 'peak memory (RSS) at N=10,000', target: '<= 200 MB', value: 'not run', met: 'n/a' });
  }
  return targets;
}

function report(results: Results, targets: Target[], log: (line: string) => void): void {
  for (const r of [...results.poller, ...results.overLimit]) {
    const c = r.case;
    const f = r.figures;
    const rows = [
      row('drain time (s)', f.drainSeconds, 1),
      ['limit N/R (s)', fmt(r.idealDrainSeconds, 1), '', ''],
      row('efficiency (N/R)/drain', f.efficiency, 3),
      row('polls per second', f.pollsPerSecond, 1),
      row('answered calls/s ÷ limit', f.throughputVsLimit, 3),
      row('429s received', f.throttled429, 0),
      row('poll errors (given up)', f.errors, 0),
      row('429 episodes (gap > Retry-After)', f.throttleEpisodes, 0),
      row('longest 429 episode (s)', f.longestThrottleEpisodeSeconds, 2),
      row('most 429s in one episode', f.most429sInOneEpisode, 0),
      row('Partner Center calls per poll', f.pcCallsPerPoll),
      row('table ops per poll', f.tableOpsPerPoll),
      row('table ops per poll incl. run-level', f.tableOpsPerPollAll),
      row('peak RSS (MiB)', f.peakRssMiB, 0),
      row('peak heap used (MiB)', f.peakHeapUsedMiB, 0),
      row('naive baseline drain (s, extrapolated)', f.baselineDrainSeconds, 0),
      row('naive baseline efficiency', f.baselineEfficiency, 3),
      row('speed-up over naive', f.speedupOverBaseline, 1),
    ].filter((cells) => cells[1] !== '-');
    printTable(
      `poller ${c.name}: N=${c.upgrades}, limit ${c.limitPerSecond}/s, POLL_RATE_PER_SECOND=${c.configuredRate}, ` +
        `POLL_CONCURRENCY=${c.concurrency}, ${f.drainSeconds.runs} run(s)`,
      rows,
      log,
    );
  }
  if (results.life) {
    const f = results.life.figures;
    printTable(
      `life: ${results.life.case.upgrades} upgrades of ${results.life.case.minMinutes} min..${results.life.case.maxHours} h, timer every 5 min, ${f.callsPerUpgrade.runs} run(s)`,
      [
        row('status calls per upgrade (ours)', f.callsPerUpgrade, 1),
        row('status calls per upgrade (fixed 5 min)', f.fixedCallsPerUpgrade, 1),
        row('fixed / ours', f.callReduction, 2),
        row('detection delay p50 (min, ours)', f.detectionDelayP50Minutes, 1),
        row('detection delay p90 (min, ours)', f.detectionDelayP90Minutes, 1),
        row('detection delay max (min, ours)', f.detectionDelayMaxMinutes, 1),
        row('detection delay p50 (min, fixed 5 min)', f.fixedDetectionDelayP50Minutes, 1),
        row('detection delay max (min, fixed 5 min)', f.fixedDetectionDelayMaxMinutes, 1),
        row('table ops per poll', f.tableOpsPerPoll),
        row('run-level table ops per timer tick', f.tableOpsPerTickRunLevel),
      ],
      log,
    );
  }
  for (const r of results.scan) {
    const f = r.figures;
    const c = r.case;
    printTable(
      `fleet scan ${c.name}: N=${c.customers}, limit ${c.limitPerSecond}/s = POLL_RATE_PER_SECOND, ` +
        `POLL_CONCURRENCY=${c.concurrency}, one timer run`,
      [
        row('drain time (s)', f.drainSeconds, 1),
        row('bound: calls ÷ R (s)', f.boundSeconds, 1),
        row('efficiency bound/drain', f.efficiency, 3),
        row('Partner Center calls', f.calls, 0),
        row('calls per customer', f.callsPerCustomer, 3),
        ...Object.entries(r.callsPerCustomerByKind).map(([kind, n]) => [`  ${kind} per customer`, fmt(n, 3), '', '']),
        row('429s received', f.throttled429, 0),
        row('peak RSS (MiB)', f.peakRssMiB, 0),
        row('peak heap used (MiB)', f.peakHeapUsedMiB, 0),
      ],
      log,
    );
  }
  if (results.webhook) {
    const f = results.webhook.figures;
    printTable(
      `webhook: eligibility through the local host vs the bare client call, ${f.webhookP50Ms.runs} run(s)`,
      [
        row('bare client p50 (ms)', f.bareClientP50Ms, 1),
        row('bare client p99 (ms)', f.bareClientP99Ms, 1),
        row('webhook p50 (ms)', f.webhookP50Ms, 1),
        row('webhook p99 (ms)', f.webhookP99Ms, 1),
        row('overhead p50 (ms)', f.overheadP50Ms, 1),
        row('overhead p99 (ms)', f.overheadP99Ms, 1),
        row('bare table write p50 (ms)', f.bareTableWriteP50Ms, 1),
        row('overhead p50 beyond the table write (ms)', f.overheadBeyondTableWriteP50Ms, 1),
        row(`requests/s (${results.webhook.case.connections} in flight)`, f.requestsPerSecond, 0),
        row('under load p50 (ms)', f.loadP50Ms, 0),
        row('under load p99 (ms)', f.loadP99Ms, 0),
        row('under load non-200', f.loadNon200, 0),
      ],
      log,
    );
  }
  if (results.wave) {
    const f = results.wave.figures;
    const c = results.wave.case;
    printTable(
      `wave: ${c.members} eligible customers, pace ${c.pace}/min, limit ${c.limitPerSecond}/s, ` +
        `POLL_RATE_PER_SECOND=${c.configuredRate}, L = ${c.latencyMs} + U[0, ${c.jitterMs}] ms, ${f.startSeconds.runs} run(s)`,
      [
        row('members started in the first timer run', f.started, 0),
        row('time to start them (s)', f.startSeconds, 1),
        row('creates per minute', f.createsPerMinute, 0),
        row('creates per minute ÷ pace', f.createsPerMinuteVsPace, 3),
        row('Partner Center calls to start a member', f.startCallsPerMember),
        row('status calls per member until the end', f.statusCallsPerMember, 1),
        row('429s', f.throttled429, 0),
        row('table operations per member started', f.tableOpsPerMemberStarted, 1),
        row(`timer runs until the wave ended (${c.tickMinutes} min apart)`, f.timerRunsToEnd, 0),
        row('simulated minutes until the wave ended', f.simulatedMinutesToEnd, 0),
        row('real seconds until the wave ended', f.realSecondsToEnd, 1),
        row('upgrades completed', f.completed, 0),
        row('upgrades failed', f.failed, 0),
      ],
      log,
    );
  }
  if (results.coldStart) {
    const f = results.coldStart.figures;
    const p = results.coldStart.packageBytes;
    const mb = (b: number | undefined) => (b === undefined ? '-' : `${(b / 1e6).toFixed(1)} MB`);
    printTable(
      `cold start: fresh node process, ${f.tscEntryLoadMs.runs} run(s); deployment package ${mb(p.deploymentPackage?.bytes)} ` +
        `(${p.deploymentPackage?.packages ?? '-'} packages); a remote build's tree: ${mb(p.total)} (dist ${mb(p.distApp)} + ` +
        `${p.productionPackages} production packages ${mb(p.productionNodeModules)})`,
      [
        row('entry load, tsc output (ms)', f.tscEntryLoadMs, 0),
        row('+ getServices(), no telemetry (ms)', f.tscServicesMs, 0),
        row('+ getServices(), App Insights on (ms)', f.tscTelemetryServicesMs, 0),
        row('ready from process start, no telemetry (ms)', f.tscReadyFromProcessStartMs, 0),
        row('ready from process start, telemetry (ms)', f.tscTelemetryReadyFromProcessStartMs, 0),
        row('entry load, deployment package (ms)', f.bundleEntryLoadMs, 0),
        row('+ getServices(), package, App Insights on (ms)', f.bundleTelemetryServicesMs, 0),
        row('ready from process start, package, no telemetry (ms)', f.bundleReadyFromProcessStartMs, 0),
        row('ready from process start, package, telemetry (ms)', f.bundleTelemetryReadyFromProcessStartMs, 0),
      ],
      log,
    );
    if (results.coldStart.bundleError) log(`package: ${results.coldStart.bundleError.slice(0, 300)}`);
  }
  log('\ntargets (reported, not asserted)');
  for (const t of targets) {
    const mark = t.met === 'n/a' ? 'n/a ' : t.met ? 'met ' : 'MISS';
    log(`  [${mark}] ${t.name}: ${t.value} (target ${t.target})`);
  }
}

main().then(
  // Exit explicitly: SDK clients keep sockets and timers that would hold the process open.
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
