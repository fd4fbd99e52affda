import { QUEUES, TABLES } from '../../../shared/storage/names';
import { asArray, get, readBicep, valueOf } from './bicep';

const main = readBicep('infra/main.bicep');

describe('storage created by infra matches shared/storage/names.ts', () => {
  it('creates every table the app uses, and no other', () => {
    expect([...asArray(valueOf(main, 'var', 'appTables'))].sort()).toEqual(Object.values(TABLES).sort());
  });

  it('creates every queue the app uses and its poison queue, and no other', () => {
    const expected = Object.values(QUEUES).flatMap((queue) => [queue, `${queue}-poison`]);
    expect([...asArray(valueOf(main, 'var', 'appQueues'))].sort()).toEqual(expected.sort());
  });

  it("passes both lists, the host's containers and the deployment container to the storage account", () => {
    const params = get(valueOf(main, 'module', 'storage'), 'params');
    expect(get(params, 'queueServices.queues')).toEqual({ expr: '[for queue in appQueues: { name: queue }]' });
    expect(get(params, 'tableServices.tables')).toEqual({ expr: '[for table in appTables: { name: table }]' });
    // Created up front, so the app's blob role can be scoped to each of them (security.suite.ts).
    expect(get(params, 'blobServices.containers')).toEqual({
      expr: '[for container in blobContainerNames: { name: container }]',
    });
    expect(valueOf(main, 'var', 'blobContainerNames')).toEqual({
      expr: 'concat(hostBlobContainerNames, [deploymentStorageContainerName])',
    });
  });
});
