import { compareWithGroundTruth } from './demo/ground-truth';
import { runJourney } from './demo/journey';
import { kindTable, partnerCenterTable, statusTable, timeTable } from './demo/report';
import { defaultScenario } from './simulator';
import { startHostedStack, type HostedStack } from './stack';

/**
 * `npm run demo`: the whole job on one machine in under a minute. It starts its own Azurite (in memory, free
 * ports), the Partner Center simulator on an accelerated clock with the default scenario (34 customers of every
 * kind), and the app in the local Functions host; then, like the billing system, asks eligibility for every
 * customer through the webhook, starts an upgrade for each eligible one, and runs the poller through the host's
 * admin API until every upgrade is final. It prints a summary and checks every upgrade against the simulator's
 * ground truth: the exit code is 1 if any differs. `--verbose` shows the app's own log lines.
 */

/** Simulated time runs 120x: the default scenario's upgrades (1 to 11 simulated minutes) take 0.5 to 5.5 s. */
const SPEED = 120;
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

  say('azure-plan-upgrades demo: the whole job on the local stack');
  say(`Starting Azurite (in memory), the Partner Center simulator (${SPEED}x clock) and the Functions host...`);
  const restoreConsole = quietConsole();
  try {
    // The stack signs with a throwaway local secret, never printed.
    stack = await startHostedStack({
      simulator: {
        scenario,
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
    const truths = sim.state.listUpgrades();
    const check = compareWithGroundTruth(truths, journey.tracked);
    const totalMs = Date.now() - started;

    say();
    say(statusTable(journey));
    say();
    say(kindTable(scenario.customers, journey, truths, check));
    say();
    say(partnerCenterTable(sim.state.counters()));
    say();
    say(timeTable(journey, startupMs, totalMs));
    say();

    const failures: string[] = [];
    if (!journey.allFinal) failures.push('not every upgrade reached a final state in time');
    const eligibleCount = scenario.customers.filter((c) => c.ineligibleReason === undefined).length;
    if (truths.length !== eligibleCount) {
      failures.push(`Partner Center holds ${truths.length} upgrades for ${eligibleCount} eligible customers`);
    }
    for (const id of check.unknown) failures.push(`${id}: tracked but unknown to Partner Center`);
    for (const [id, differences] of check.differing) failures.push(`${id}: ${differences.join('; ')}`);
    if (failures.length > 0) {
      say(`Ground truth check FAILED (${failures.length}):`);
      for (const failure of failures) say(`  ${failure}`);
      return 1;
    }
    say(
      `Ground truth check passed: all ${check.checked} upgrades are tracked in their true final state, with ` +
        'their line items and history; none lost, none invented.',
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
