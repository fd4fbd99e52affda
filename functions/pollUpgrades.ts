import { app, type InvocationContext, type Timer } from '@azure/functions';
import { runBackground } from '../shared/fleet';
import { backgroundOptions, getServices } from '../shared/services';
import { purgeWebhookIdsStep } from '../shared/webhooks/purge';

/**
 * Timer: the background run — poll what is due (never the whole history), then the fleet waves, then the fleet scan
 * with what is left of the run's time budget, all through one Partner Center rate budget. A failed run is retried by
 * the next tick.
 */
export async function pollUpgrades(timer: Timer, context: InvocationContext): Promise<void> {
  const services = getServices();
  if (timer.isPastDue) context.warn('pollUpgrades: this run is late (past due); it processes everything due.');
  const { poll: summary, wave, scan } = await runBackground(backgroundOptions(services));
  await purgeWebhookIdsStep(services.tables, context); // webhook-ids past their 72 h, a bounded number per run
  // The rotated refresh token is written to Key Vault at most once per interval; a run is a good moment to do it.
  await services.consent
    .flush()
    .catch((error: unknown) => context.warn(`pollUpgrades: refresh token not yet written back: ${String(error)}`));
  context.log(
    `pollUpgrades: due ${summary.due}, polled ${summary.polled}, changed ${summary.changed}, throttled ${summary.throttled}, ` +
      `errors ${summary.errors}, outstanding ${summary.outstanding} in ${summary.durationMs} ms` +
      (summary.recovered > 0 ? `, ${summary.recovered} tracking message(s) re-sent` : '') +
      (summary.stoppedBy ? ` (stopped: ${summary.stoppedBy})` : ''),
  );
  if (wave.outcome === 'error') context.warn(`pollUpgrades: the fleet wave step failed: ${wave.error}`);
  else if (wave.outcome === 'worked') {
    for (const w of wave.waves) {
      if (w.outcome === 'busy') context.log(`pollUpgrades: fleet wave ${w.waveId} is held by another run`);
      if (w.outcome !== 'worked') continue;
      context.log(
        `pollUpgrades: fleet wave ${w.waveId} ${w.state}: ${w.created} upgrade(s) created, ` +
          `${w.calls} Partner Center call(s)` +
          (w.stoppedBy ? ` (stopped: ${w.stoppedBy}${w.error ? `: ${w.error}` : ''})` : ''),
      );
    }
  }
  switch (scan.outcome) {
    case 'idle':
      break;
    case 'busy':
      context.log(`pollUpgrades: fleet scan ${scan.scanId} is held by another run`);
      break;
    case 'deferred':
      context.log(`pollUpgrades: fleet scan ${scan.scanId} waits for the next run (no time left in this one)`);
      break;
    case 'worked':
      context.log(
        `pollUpgrades: fleet scan ${scan.scanId} ${scan.state}: ${scan.checked} customer(s) checked, ` +
          `${scan.calls} Partner Center call(s), ${scan.throttled} throttled in ${scan.durationMs} ms` +
          (scan.stoppedBy ? ` (stopped: ${scan.stoppedBy}${scan.error ? `: ${scan.error}` : ''})` : ''),
      );
      break;
    case 'error':
      context.warn(`pollUpgrades: the fleet scan step failed: ${scan.error}`);
      break;
  }
}

app.timer('pollUpgrades', {
  schedule: '%POLL_SCHEDULE%',
  runOnStartup: false,
  useMonitor: true,
  handler: pollUpgrades,
});
