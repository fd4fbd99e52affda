import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { readUpgrade } from '../shared/api/read';
import { getServices } from '../shared/services';

export function getUpgrade(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return readUpgrade(getServices(), request, context);
}

app.http('getUpgrade', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'upgrades/{upgradeId}',
  handler: getUpgrade,
});
