import { runFleetWave } from './demo/fleet';
import { compareWithGroundTruth } from './demo/ground-truth';
import { runJourney } from './demo/journey';
import { kindTable, partnerCenterTable, scanTable, statusTable, table, timeTable, waveTable } from './demo/report';
import { defaultScenario, generateFleetScenario } from './simulator';
import { startHostedStack, type HostedStack } from './stack';

/**
 * `npm run demo`: the whole job on one machine in about a minute. It starts its own Azurite (in memory, free
 * ports), the Partner Center simulator on an accelerated clock with the default scenario (34 customers of every
 * kind) and a generated fleet of a few hundred more, and the app in the local Functions host; then, like the billing
 * system, asks eligibility for each of the 34 through the webhook, starts an upgrade for each eligible one, and runs
 * the poller through the host's admin API until every upgrade is final. Then, as an operator: a scan of the whole
 * customer base, a dry run of a wave of the eligible customers, the wave, and timer runs until it has ended. It prints
 * a summary and checks every upgrade against the simulator's ground truth: the exit code is 1 if any differs.
 * `--verbose` shows the app's own log lines.
 */

/** Simulated time runs 120x: the default scenario's upgrades (1 to 11 simulated minutes) take 0.5 to 5.5 s. */
const SPEED = 120;
/** The rest of the partner's customer base, beside the default scenario's 34, for the scan and the wave. */
const FLEET_CUSTOMERS = 300;
/** The wave's pace: fast, as the simulator's accelerated clock is (the default is WAVE_CREATES_PER_MINUTE, 30). */
const WAVE_PACE = 600;
const verbose = process.argv.includes('--verbose');

const say = (line = ''): void => void process.stdout.write(`${line}\n`);

/** The app logs to the console (telemetry, Partner Center client); the demo keeps its own output readable. */
function quietConsole(): () => void {
  const saved = { log: console.log, info: console.info, warn: console.warn, debug: console.debug };
  if (!verbose) {
    console.log = console.info = console.debug = () => undefined;
    console.warn = () => undefined;
  }
  return () => Object.assign(console, saved);
}

let stack: HostedStack | undefined;
let stopping: Promise<void> | undefined;

/** Stops what was started, once (normal end, failure, or a signal). */
function stopAll(): Promise<void> {
  stopping ??= (stack?.stop() ?? Promise.resolve()).catch(() => undefined);
  return stopping;
}

// Ctrl-C or a kill: stop Azurite (a child process) and the servers before leaving, so nothing is left behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping the demo stack...\n`);
    void stopAll().finally(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  const started = Date.now();
  const scenario = { ...defaultScenario(), speed: SPEED };
  // The generated customers' upgrades take 1 to 11 simulated minutes too.
  const fleet = generateFleetScenario({
    customers: FLEET_CUSTOMERS,
    seed: 11,
    pendingSeconds: { min: 10, max: 60 },
    inProgressSeconds: { min: 50, max: 600 },
  });
  const journeyIds = new Set(scenario.customers.map((c) => c.id));

  say('azure-plan-upgrades demo: the whole job on the local stack');
  say(`Starting Azurite (in memory), the Partner Center simulator (${SPEED}x clock) and the Functions host...`);
  const restoreConsole = quietConsole();
  try {
    // The stack signs with a throwaway local secret, never printed.
    stack = await startHostedStack({
      simulator: {
        scenario: { ...scenario, customers: [...scenario.customers, ...fleet.customers] },
        // Partner Center throttles per partner; the poller stays under this and pauses on a 429.
        rateLimits: { perPartner: { ratePerSecond: 50, burst: 50 } },
      },
      tablePrefix: 'demo',
      log: (line) => {
        if (verbose) say(line);
      },
      // The timer stays quiet (the stack's schedule): the demo starts each poll run itself, as an operator can.
      settings: {
        POLL_FIRST_DELAY_SECONDS: '0',
        POLL_MIN_INTERVAL_SECONDS: '1',
        POLL_MAX_INTERVAL_SECONDS: '2',
        POLL_CONCURRENCY: '8',
        POLL_RATE_PER_SECOND: '40',
        POLL_TIME_BUDGET_SECONDS: '20',
      },
      // The app's telemetry goes to the console as it would without Application Insights (shown with --verbose).
      consoleTelemetry: true,
    });
    const running = stack;
    const { sim, host } = running;
    const startupMs = Date.now() - started;
    say(`  simulator ${sim.url}   Functions host ${host.url}/api   (${(startupMs / 1000).toFixed(1)} s)`);
    say();
    say(`${scenario.customers.length} customers; the billing system asks, starts, and the poller follows:`);

    const journey = await runJourney({
      apiUrl: `${host.url}/api`,
      customerIds: scenario.customers.map((c) => c.id),
      runPoll: () => running.runByAdmin('pollUpgrades'),
      sign: running.signedHeaders,
      concurrency: 6,
      pollDeadlineMs: 40_000,
      pollWhileStarting: true,
      pollPauseMs: 500,
      log: (line) => say(`  ${line}`),
    });
    const truths = sim.state.listUpgrades().filter((t) => journeyIds.has(t.customerId));
    const check = compareWithGroundTruth(truths, journey.tracked);
    const journeyCounters = sim.state.counters();
    const totalMs = Date.now() - started;

    say();
    say(statusTable(journey));
    say();
    say(kindTable(scenario.customers, journey, truths, check));
    say();
    say(partnerCenterTable(journeyCounters));
    say();
    say(timeTable(journey, startupMs, totalMs));
    say();

    // The operator's part: the whole customer base scanned, and one wave of its eligible customers.
    sim.state.resetCounters();
    say(
      `The whole fleet: ${scenario.customers.length + fleet.customers.length} customers; a scan, then one wave of ` +
        `the eligible ones at ${WAVE_PACE} a minute:`,
    );
    const wave = await runFleetWave({
      apiUrl: `${host.url}/api`,
      fleet: running.services.fleet,
      sim: sim.state,
      runTimer: () => running.runByAdmin('pollUpgrades'),
      createsPerMinute: WAVE_PACE,
      deadlineMs: 120_000,
      log: (line) => say(`  ${line}`),
    });
    say();
    say(scanTable(wave.scan));
    say();
    say(waveTable(wave));
    say();
    say(
      partnerCenterTable(sim.state.counters(), [
        'customers',
        'usageRecords',
        'subscriptions',
        'agreements',
        'eligibility',
        'create',
        'status',
        'token',
      ]),
    );
    say();
    say(
      table(
        ['phase', 'time'],
        [
          [`scan, ${wave.scan.counts.checked} customers`, `${(wave.durationsMs.scan / 1000).toFixed(1)} s`],
          [
            `wave of ${wave.wave.progress.members}, until it ended (${wave.timerRuns} timer runs in all)`,
            `${(wave.durationsMs.wave / 1000).toFixed(1)} s`,
          ],
          ['total, with the journey', `${((Date.now() - started) / 1000).toFixed(1)} s`],
        ],
      ),
    );
    say();

    const failures: string[] = [];
    if (!journey.allFinal) failures.push('not every upgrade reached a final state in time');
    const eligibleCount = scenario.customers.filter((c) => c.ineligibleReason === undefined).length;
    if (truths.length !== eligibleCount) {
      failures.push(`Partner Center holds ${truths.length} upgrades for ${eligibleCount} eligible customers`);
    }
    for (const id of check.unknown) failures.push(`${id}: tracked but unknown to Partner Center`);
    for (const [id, differences] of check.differing) failures.push(`${id}: ${differences.join('; ')}`);
    if (wave.wave.state !== 'completed') failures.push(`the wave ended ${wave.wave.state}`);
    if (wave.wave.progress.members !== wave.dryRun.members.length) {
      failures.push(
        `the wave has ${wave.wave.progress.members} members, the dry run said ${wave.dryRun.members.length}`,
      );
    }
    for (const id of wave.check.unknown) failures.push(`${id}: in the wave but unknown to Partner Center`);
    for (const [id, differences] of wave.check.differing) failures.push(`${id} (wave): ${differences.join('; ')}`);
    for (const id of wave.createdTwice) failures.push(`customer ${id}: more than one upgrade made by the wave`);
    if (failures.length > 0) {
      say(`Ground truth check FAILED (${failures.length}):`);
      for (const failure of failures) say(`  ${failure}`);
      return 1;
    }
    say(
      `Ground truth check passed: all ${check.checked + wave.check.checked} upgrades (${check.checked} started by ` +
        `the billing system, ${wave.check.checked} by the wave) are tracked in their true final state, with their ` +
        'line items and history; none lost, none invented, no customer upgraded twice.',
    );
    return 0;
  } finally {
    await stopAll();
    restoreConsole();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
