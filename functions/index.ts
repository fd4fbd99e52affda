import { app } from '@azure/functions';
import { loadConfig } from '../shared/config';

// Entry loaded by the Functions host before the function files (package.json `main`): validate every setting now,
// so that a missing or malformed one fails the start with a message naming it instead of failing requests later.
loadConfig();

app.setup({ enableHttpStream: false });
