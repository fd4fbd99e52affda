import { app } from '@azure/functions';
import { eligibilityWebhook } from '../shared/api/eligibility';
import { webhookFunction } from '../shared/api/webhook';

/** POST /api/eligibility: Partner Center's answer for a customer, recorded (the steps: shared/api/webhook.ts). */
export const checkEligibility = webhookFunction('eligibility', (services) => eligibilityWebhook(services));

app.http('checkEligibility', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'eligibility',
  handler: checkEligibility,
});
