import { parseDuration, parseFaultFlag, parseThrottleFlag, collectFaultFlag } from '../../src/emulator';

describe('--fault', () => {
  it.each([
    ['error:code=2,rate=0.2', { fault: 'error', code: 2, rate: 0.2 }],
    ['throttle', { fault: 'throttle' }],
    ['throttle:code=80003,retryAfterMinutes=2,nextCalls=3', { fault: 'throttle', code: 80003, retryAfterMinutes: 2, nextCalls: 3 }],
    [
      'drop_connection:drop=after,method=delete,path=/users',
      { fault: 'drop_connection', drop: 'after', match: { method: 'DELETE', path: '/users' } },
    ],
    [
      'slow:delayMs=5s,startAfterMs=1m,durationMs=250',
      { fault: 'slow', delayMs: 5_000, startAfterMs: 60_000, durationMs: 250 },
    ],
    ['error:code=190,subcode=460,adAccountId=act_123', { fault: 'error', code: 190, subcode: 460, match: { adAccountId: '123' } }],
    ['http_5xx:httpStatus=502', { fault: 'http_5xx', httpStatus: 502 }],
  ])('parses %s', (flag, rule) => {
    expect(parseFaultFlag(flag)).toEqual(rule);
  });

  it.each([
    ['explode', 'fault'],
    ['error', 'code'],
    ['error:code', 'is not <field>=<value>'],
    ['error:code=2,colour=red', 'unknown field "colour"'],
    ['error:code=2,rate=2', 'rate'],
    ['slow:delayMs=soon', 'not a duration'],
    ['http_5xx:httpStatus=404', 'httpStatus'],
  ])('refuses %s, naming the problem', (flag, problem) => {
    expect(() => parseFaultFlag(flag)).toThrow(problem);
  });

  it('collects repeated flags in order', () => {
    const rules = collectFaultFlag('error:code=1', collectFaultFlag('slow:delayMs=10'));
    expect(rules.map((rule) => rule.fault)).toEqual(['slow', 'error']);
  });
});

describe('--throttle and durations', () => {
  it.each([
    ['100/1m', { maxCallsPerWindow: 100, windowMs: 60_000 }],
    ['5000/1h', { maxCallsPerWindow: 5000, windowMs: 3_600_000 }],
    ['3/500ms', { maxCallsPerWindow: 3, windowMs: 500 }],
  ])('parses %s', (flag, settings) => {
    expect(parseThrottleFlag(flag)).toEqual(settings);
  });

  it.each(['100', '0/1m', 'x/1m', '10/forever'])('refuses %s', (flag) => {
    expect(() => parseThrottleFlag(flag)).toThrow();
  });

  it('reads plain milliseconds and units', () => {
    expect([parseDuration('250'), parseDuration('1.5s'), parseDuration('2m'), parseDuration('1h')]).toEqual([250, 1500, 120_000, 3_600_000]);
  });
});
