import { httpsOrLoopbackProblem } from '../../../shared/net/urls';

describe('the URL rule (settings and billing callbacks)', () => {
  it.each([
    'https://billing.example.com/callbacks?key=abc',
    'https://api.partnercenter.microsoft.com',
    'http://localhost:7072/callbacks',
    'http://127.0.0.1:8090',
    'http://[::1]:8090/',
  ])('accepts %s', (url) => {
    expect(httpsOrLoopbackProblem(url)).toBeUndefined();
  });

  it.each([
    ['http://billing.example.com/callbacks', /https/],
    ['http://localhost.example.com/', /https/],
    ['http://127.0.0.2/', /https/],
    ['ftp://billing.example.com', /https/],
    ['/callbacks', /absolute/],
    ['billing.example.com', /absolute/],
  ])('refuses %s, saying why', (url, why) => {
    expect(httpsOrLoopbackProblem(url)).toMatch(why);
  });
});
