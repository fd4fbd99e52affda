/** Names of every table and queue the app uses (infra creates the same ones; a test cross-checks). */
export const TABLES = {
  upgrades: 'Upgrades',
  customerUpgrades: 'CustomerUpgrades',
  pollSchedule: 'PollSchedule',
  upgradeHistory: 'UpgradeHistory',
  eligibilityChecks: 'EligibilityChecks',
  pollRuns: 'PollRuns',
  idempotency: 'IdempotencyKeys',
  webhookEvents: 'WebhookEvents',
  rejectedMessages: 'RejectedMessages',
  callbacks: 'Callbacks',
  health: 'Health',
} as const;

export const QUEUES = {
  upgradeTracking: 'upgrade-tracking',
  upgradeNotifications: 'upgrade-notifications',
} as const;

export type TableKey = keyof typeof TABLES;
