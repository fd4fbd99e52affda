import { parseAuthenticationString } from '../../../shared/telemetry/app-insights';

describe('APPLICATIONINSIGHTS_AUTHENTICATION_STRING', () => {
  it('asks for Entra authentication only with Authorization=AAD, with the managed identity client id if given', () => {
    expect(parseAuthenticationString('ClientId=abc;Authorization=AAD')).toEqual({ clientId: 'abc' });
    expect(parseAuthenticationString(' authorization = aad ; clientid = abc ')).toEqual({ clientId: 'abc' });
    expect(parseAuthenticationString('Authorization=AAD')).toEqual({ clientId: undefined });
    expect(parseAuthenticationString('ClientId=abc')).toBeUndefined();
    expect(parseAuthenticationString('Authorization=None;ClientId=abc')).toBeUndefined();
    expect(parseAuthenticationString('')).toBeUndefined();
    expect(parseAuthenticationString(undefined)).toBeUndefined();
  });
});
