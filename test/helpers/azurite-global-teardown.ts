import type { RunningAzurite } from '../../dev/azurite';

export default async function globalTeardown(): Promise<void> {
  const shared = globalThis as { __AZURITE__?: RunningAzurite; __AZURITE_USERS__?: number };
  shared.__AZURITE_USERS__ = (shared.__AZURITE_USERS__ ?? 1) - 1;
  if (shared.__AZURITE_USERS__ > 0) return;
  await shared.__AZURITE__?.stop();
  shared.__AZURITE__ = undefined;
}
