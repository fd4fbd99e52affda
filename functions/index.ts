import { app } from '@azure/functions';
import { loadConfig } from '../shared/config';
import { flushServices } from '../shared/services';
// The app's entry (package.json `main`, and the source of the deployed bundle): every function module, each
// registering its function as it is imported. A new function file is added here.
import './cancelFleetWave';
import './checkEligibility';
import './createFleetWave';
import './getFleetScan';
import './getFleetSummary';
import './getFleetWave';
import './getUpgrade';
import './health';
import './listCustomerUpgrades';
import './listFleetCustomers';
import './notifyBillingSystem';
import './pauseFleetWave';
import './pollUpgrades';
import './recordPoisonMessage';
import './requestFleetScan';
import './resumeFleetWave';
import './startTracking';
import './startUpgrade';

/**
 * How long the appTerminate hook may take. On scale-in or a recycle the host sends WorkerTerminate with a 5 s grace
 * period, then kills the worker; the worker runs the appTerminate hooks first and exits when they settle. Four
 * seconds leaves it time to close its stream.
 */
const TERMINATE_FLUSH_MS = 4_000;

// HTTP streaming stays off: it would move every HTTP function onto the worker's proxy channel for the sake of one
// CSV export, whose stream body the worker then reads to its end (README, "The fleet").
app.setup({ enableHttpStream: false });

// Telemetry still queued and a rotated refresh token not yet written back would be lost with the process.
app.hook.appTerminate(async () => {
  await flushServices(TERMINATE_FLUSH_MS);
});

// Every setting is validated now, after the registrations above: the Node worker reports an entry point that throws
// as failed ("Worker was unable to load entry point ...", naming the setting) only once a function has been
// registered. A throw before any registration leaves the app looking like an empty one: the host starts with zero
// functions and the error only on stderr.
loadConfig();
