import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { commandWaveRequest } from '../shared/api/waves';
import { getServices } from '../shared/services';

/** A paused wave starts its customers again. */
export function resumeFleetWave(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return commandWaveRequest(getServices(), request, 'resume', context);
}

app.http('resumeFleetWave', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'fleet/waves/{waveId}/resume',
  handler: resumeFleetWave,
});
