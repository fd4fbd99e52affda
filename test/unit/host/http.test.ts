import { compileRoute, findRoute, isLoopbackHost, pathSegments, readAdminInput } from '../../../dev/host/http-server';
import { FunctionRegistry, type HttpRegistration } from '../../../dev/host/registry';

const routesOf = (functions: FunctionRegistry) => (functions.registrations as HttpRegistration[]).map(compileRoute);

describe('route templates (literal segments and {name} parameters, as the app writes them)', () => {
  const functions = new FunctionRegistry();
  functions.http('startUpgrade', { methods: ['POST'], route: 'upgrades', handler: () => ({}) });
  functions.http('getUpgrade', { methods: ['GET'], route: 'upgrades/{upgradeId}', handler: () => ({}) });
  functions.http('list', { methods: ['GET'], route: '/customers/{customerId}/upgrades/', handler: () => ({}) });
  functions.http('anyMethod', { handler: () => ({}) });
  const routes = routesOf(functions);
  const find = (path: string, method: string) => {
    const found = findRoute(routes, pathSegments(path), method);
    return found && { name: found.route.registration.name, params: found.params };
  };

  it('matches literals case-insensitively and passes parameters as written, decoded', () => {
    expect(find('/Customers/C-1/UPGRADES', 'GET')).toEqual({ name: 'list', params: { customerId: 'C-1' } });
    expect(find('/upgrades/a%20b', 'GET')).toEqual({ name: 'getUpgrade', params: { upgradeId: 'a b' } });
    expect(find('/upgrades/100%', 'GET')).toEqual({ name: 'getUpgrade', params: { upgradeId: '100%' } });
    expect(find('/upgrades/', 'POST')).toEqual({ name: 'startUpgrade', params: {} });
    expect(find('/anyMethod?x=1', 'PATCH')).toEqual({ name: 'anyMethod', params: {} }); // no methods = every method
  });

  it('finds nothing for another shape, an empty parameter, or a method the route does not take (404, as in the host)', () => {
    expect(find('/customers/c-1', 'GET')).toBeUndefined();
    expect(find('/customers//upgrades', 'GET')).toBeUndefined();
    expect(find('/upgrades/u-1/extra', 'GET')).toBeUndefined();
    expect(find('/upgrades', 'GET')).toBeUndefined();
    expect(find('/upgrades/u-1', 'DELETE')).toBeUndefined();
  });

  it('refuses template syntax the app does not use instead of routing it wrongly', () => {
    for (const route of ['upgrades/{id:guid}', 'reports/{day?}', 'files/{*path}', 'a/x{id}', 'a//b']) {
      const functions = new FunctionRegistry();
      functions.http('odd', { route, handler: () => ({}) });
      expect(() => routesOf(functions)).toThrow(`odd: route "${route}" is not read by the local host`);
    }
  });
});

describe('requests the local host answers', () => {
  it('are addressed to the loopback interface (a rebound DNS name is refused)', () => {
    for (const host of ['localhost', 'localhost:7071', 'LOCALHOST:1', '127.0.0.1:7071', '[::1]:7071']) {
      expect(isLoopbackHost(host)).toBe(true);
    }
    for (const host of [
      undefined,
      '',
      'evil.example:7071',
      'localhost.evil.example',
      '127.0.0.1.nip.io',
      'a@localhost',
    ]) {
      expect(isLoopbackHost(host)).toBe(false);
    }
  });

  it('on the admin API, carry a JSON body { "input": string } (415 for any other content type, 400 for another body)', () => {
    const body = (text: string): Buffer => Buffer.from(text);
    expect(readAdminInput('application/json', body('{"input":"{\\"a\\":1}"}'))).toEqual({
      kind: 'input',
      input: '{"a":1}',
    });
    expect(readAdminInput('application/json; charset=utf-8', body('{}'))).toEqual({ kind: 'input', input: undefined });
    expect(readAdminInput('application/vnd.x+json', body('{"input":null}'))).toEqual({
      kind: 'input',
      input: undefined,
    });
    for (const type of [
      undefined,
      'text/plain',
      'text/plain;charset=UTF-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
    ]) {
      expect(readAdminInput(type, body('{}'))).toEqual({ kind: 'refused', status: 415 });
    }
    for (const text of ['', 'not json', '[]', 'null', '"x"', '{"input":{"a":1}}']) {
      expect(readAdminInput('application/json', body(text))).toEqual({ kind: 'refused', status: 400 });
    }
  });
});
