/** Names of every table and queue the app uses (infra creates the same ones; a test cross-checks). */
export const TABLES = {
  /** Every upgrade's rows in its schedule shard's partition: the upgrade, its history, its schedule entry. */
  tracking: 'Tracking',
  customerUpgrades: 'CustomerUpgrades',
  eligibilityChecks: 'EligibilityChecks',
  pollRuns: 'PollRuns',
  /** Every POST webhook's webhook-id (one namespace for all endpoints) with its stored answer, for 72 h. */
  webhookIds: 'WebhookIds',
  rejectedMessages: 'RejectedMessages',
  callbacks: 'Callbacks',
  health: 'Health',
  /** The fleet scan: its slot, one row per customer of the partner, one row per finished scan (one partition). */
  fleet: 'Fleet',
} as const;

export const QUEUES = {
  upgradeTracking: 'upgrade-tracking',
  upgradeNotifications: 'upgrade-notifications',
} as const;

export type TableKey = keyof typeof TABLES;
