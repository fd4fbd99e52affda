/**
 * Custom event names sent to Application Insights. Alert rules and the workbook in infra/ query these names; a test
 * checks that infra names only what is listed here.
 */
export const TELEMETRY_EVENTS = [
  'EligibilityChecked',
  'UpgradeStarted',
  'UpgradeStatusChanged',
  'UpgradeCompleted',
  'UpgradeFailed',
  'UpgradeStale',
  'CallbackDelivered',
  'CallbackRejected',
  'CallbackFailed',
  'RefreshTokenInvalid',
  'PollRunCompleted',
  'PoisonMessage',
  'PartnerCenterAuthFailed',
  // The fleet scan (shared/fleet): asked for over HTTP (a scheduled one is not), started, one progress event per timer
  // run that worked on it, then its end.
  'FleetScanRequested',
  'FleetScanStarted',
  'FleetScanProgress',
  'FleetScanCompleted',
  'FleetScanFailed',
  // A POST webhook whose signature did not verify: properties reason and endpoint (never a header value).
  'WebhookSignatureRejected',
  // Fleet waves (shared/fleet/wave*.ts): created, one progress event per timer run that worked on a wave, the
  // operator's pause, resume and cancel, and its end (completed or cancelled, with its counts and duration).
  'WaveCreated',
  'WaveProgress',
  'WavePaused',
  'WaveResumed',
  'WaveCancelled',
  'WaveCompleted',
] as const;

export type TelemetryEventName = (typeof TELEMETRY_EVENTS)[number];

/** Measurements of the PollRunCompleted event. */
export const POLL_RUN_MEASUREMENTS = [
  'due',
  'polled',
  'changed',
  'throttled',
  'errors',
  'durationMs',
  'outstanding',
  // How many 429 episodes cut the run's rate, and the rate it ended at (requests/s; below POLL_RATE_PER_SECOND after a cut).
  'rateCuts',
  'finalRatePerSecond',
] as const;

/**
 * What the wave events carry, as the workbook and the alerts read them: every wave event names its wave in the
 * `waveId` property; its counts are measurements. An upgrade a wave started carries the wave's `waveId` on its
 * UpgradeCompleted and UpgradeFailed events too, with the measurement `durationMs` (from its creation to its end).
 */
export const WAVE_EVENT_FIELDS = {
  properties: ['waveId'],
  measurements: {
    WaveCreated: ['members'],
    WaveProgress: ['created', 'skipped', 'createFailed', 'inProgress', 'completed', 'failed', 'stale', 'remaining'],
    WaveCompleted: ['members', 'created', 'skipped', 'createFailed', 'completed', 'failed', 'stale', 'durationMs'],
    UpgradeCompleted: ['durationMs'],
    UpgradeFailed: ['durationMs'],
  },
} as const;
