import { compileHttpRoutes, findRoute } from '../../../dev/host/http-server';
import { FunctionRegistry, type HttpRegistration } from '../../../dev/host/registry';
import { compileRoute, matchRoute } from '../../../dev/host/routes';

const split = (path: string): string[] => path.split('/').filter(Boolean);

describe('route templates', () => {
  it('matches literals case-insensitively and captures parameters as written', () => {
    expect(matchRoute(compileRoute('customers/{customerId}/upgrades'), split('Customers/C-1/UPGRADES'))).toEqual({
      customerId: 'C-1',
    });
    expect(matchRoute(compileRoute('customers/{customerId}/upgrades'), split('customers/c-1'))).toBeUndefined();
  });

  it('applies constraints', () => {
    const guid = compileRoute('upgrades/{id:guid}');
    expect(matchRoute(guid, split('upgrades/3F2504E0-4F89-41D3-9A0C-0305E82C3301'))).toBeDefined();
    expect(matchRoute(guid, split('upgrades/42'))).toBeUndefined();
    const ranged = compileRoute('pages/{n:int:range(1,10)}');
    expect(matchRoute(ranged, split('pages/10'))).toEqual({ n: '10' });
    expect(matchRoute(ranged, split('pages/11'))).toBeUndefined();
    const regex = compileRoute('x/{code:regex(^[a-z]{{3}}$)}');
    expect(matchRoute(regex, split('x/abc'))).toEqual({ code: 'abc' });
    expect(matchRoute(regex, split('x/abcd'))).toBeUndefined();
    expect(matchRoute(compileRoute('x/{code:length(3)}'), split('x/abc'))).toEqual({ code: 'abc' });
  });

  it('accepts a missing optional last parameter and a catch-all', () => {
    const optional = compileRoute('reports/{day?}');
    expect(matchRoute(optional, split('reports'))).toEqual({});
    expect(matchRoute(optional, split('reports/monday'))).toEqual({ day: 'monday' });
    expect(matchRoute(compileRoute('files/{*path}'), split('files/a/b/c.txt'))).toEqual({ path: 'a/b/c.txt' });
  });

  it('rejects templates the host would reject', () => {
    expect(() => compileRoute('{a?}/b')).toThrow(/only the last segment/);
    expect(() => compileRoute('a/{id:nonsense}')).toThrow(/constraint "nonsense"/);
  });

  it('picks the most specific route and reports 405 with the methods a path allows', () => {
    const functions = new FunctionRegistry();
    functions.get('byId', { route: 'upgrades/{id}', handler: () => ({}) });
    functions.get('summary', { route: 'upgrades/summary', handler: () => ({}) });
    functions.post('create', { route: 'upgrades', handler: () => ({}) });
    functions.http('any', { route: 'anything', handler: () => ({}) });
    const routes = compileHttpRoutes(functions.registrations as HttpRegistration[]);
    const found = findRoute(routes, split('upgrades/summary'), 'GET');
    expect(found.kind === 'found' && found.route.registration.name).toBe('summary');
    expect(findRoute(routes, split('upgrades'), 'GET')).toEqual({ kind: 'methodNotAllowed', allowed: ['POST'] });
    expect(findRoute(routes, split('anything'), 'PATCH').kind).toBe('found'); // no methods = every method
    expect(findRoute(routes, split('nowhere'), 'GET')).toEqual({ kind: 'notFound' });
  });
});
