import { app } from '@azure/functions';
import { startUpgradeWebhook } from '../shared/api/start-upgrade';
import { webhookFunction } from '../shared/api/webhook';

/** POST /api/upgrades: eligibility, then the upgrade created and tracked (the steps: shared/api/webhook.ts). */
export const startUpgrade = webhookFunction(
  'upgrades',
  (services, instance, warn) => (call) => startUpgradeWebhook(services, call, instance, warn),
);

app.http('startUpgrade', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'upgrades',
  handler: startUpgrade,
});
