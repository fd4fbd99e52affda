import { app, type InvocationContext, type Timer } from '@azure/functions';
import { getServices } from '../shared/services';
import { pollDueUpgrades, queueNotifier, queueTracker } from '../shared/tracking';
import { purgeWebhookIdsStep } from '../shared/webhooks/purge';

/** Timer: poll what is due (never the whole history), within the run's time budget. A failed run is retried by the next tick. */
export async function pollUpgrades(timer: Timer, context: InvocationContext): Promise<void> {
  const services = getServices();
  if (timer.isPastDue) context.warn('pollUpgrades: this run is late (past due); it processes everything due.');
  const summary = await pollDueUpgrades({
    store: services.tracking,
    partnerCenter: services.partnerCenter,
    config: services.config.poll,
    telemetry: services.telemetry,
    notify: queueNotifier(services.queues.upgradeNotifications),
    resend: queueTracker(services.queues.upgradeTracking),
  });
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
}

app.timer('pollUpgrades', {
  schedule: '%POLL_SCHEDULE%',
  runOnStartup: false,
  useMonitor: true,
  handler: pollUpgrades,
});
