import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { commandWaveRequest } from '../shared/api/waves';
import { getServices } from '../shared/services';

/** No customer of the wave is ever started again; the upgrades it started are followed to their end. */
export function cancelFleetWave(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return commandWaveRequest(getServices(), request, 'cancel', context);
}

app.http('cancelFleetWave', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'fleet/waves/{waveId}/cancel',
  handler: cancelFleetWave,
});
