import { knownRecord, readCallbackRow, type CallbackRecord, type CallbackTables } from '../../shared/callbacks/store';

/** The recorded outcome of one callback (the `Callbacks` row of an upgrade and event), for tests to look at. */
export async function readCallbackRecord(
  tables: CallbackTables,
  upgradeId: string,
  eventId: string,
): Promise<CallbackRecord | undefined> {
  return knownRecord(await readCallbackRow(tables, upgradeId, eventId));
}
