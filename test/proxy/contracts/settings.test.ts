import { parseSettings, settingsToEnv, SETTINGS, DEFAULT_INBOUND_PORT, LOG_LEVELS, METRIC_SINKS, type ContractError } from '../../../proxy/contracts';

describe('parseSettings', () => {
  test('defaults apply when nothing is set', () => {
    const s = parseSettings([], {});
    expect(s.inboundPort).toBe(DEFAULT_INBOUND_PORT);
    expect(s.egressPort).toBe(15001);
    expect(s.adminPort).toBe(9901);
    expect(s.adminAddress).toBe('127.0.0.1');
    expect(s.uid).toBe(1337);
    expect(s.config).toBeUndefined();
  });

  test('a flag beats the environment, which beats the default', () => {
    const s = parseSettings(['--inbound-port', '16000', '--transparent'], { WEFT_INBOUND_PORT: '17000', WEFT_EGRESS_PORT: '17001' });
    expect(s.inboundPort).toBe(16000);
    expect(s.egressPort).toBe(17001);
    expect(s.transparent).toBe(true);
  });

  test('every bad value is reported with where it came from', () => {
    let error: ContractError | undefined;
    try {
      parseSettings(['--admin-port=70000', '--bogus', 'x'], { WEFT_TRUSTED_HOPS: '-1' });
    } catch (err) {
      error = err as ContractError;
    }
    expect(error?.code).toBe('WEFT_ERR_SETTINGS_INVALID');
    expect(error?.issues).toEqual([
      { path: '--admin-port', message: 'expected a port (1-65535), got: "70000"' },
      { path: 'WEFT_TRUSTED_HOPS', message: 'expected a non-negative integer, got: "-1"' },
      { path: '--bogus', message: 'unknown flag' },
    ]);
  });

  test('the random seed is unset by default and read from WEFT_RANDOM_SEED or --random-seed', () => {
    expect(parseSettings([], {}).randomSeed).toBeUndefined();
    expect(parseSettings([], { WEFT_RANDOM_SEED: '42' }).randomSeed).toBe(42);
    expect(parseSettings(['--random-seed', '7'], { WEFT_RANDOM_SEED: '42' }).randomSeed).toBe(7);
  });

  test('settingsToEnv round-trips through parseSettings', () => {
    const env = settingsToEnv({ node: 'orders-v1', config: 's3://b/k', appPorts: ['8080', '9090'], transparent: true });
    expect(env).toEqual({ WEFT_NODE: 'orders-v1', WEFT_CONFIG: 's3://b/k', WEFT_APP_PORTS: '8080,9090', WEFT_TRANSPARENT: 'true' });
    const s = parseSettings([], env);
    expect(s).toMatchObject({ node: 'orders-v1', config: 's3://b/k', appPorts: ['8080', '9090'], transparent: true });
  });

  test('every setting has a distinct env var and flag', () => {
    const specs = Object.values(SETTINGS);
    expect(new Set(specs.map((s) => s.env)).size).toBe(specs.length);
    expect(new Set(specs.map((s) => s.flag)).size).toBe(specs.length);
  });
});

describe('settings with a fixed set of values', () => {
  const issuesOf = (argv: string[], env: NodeJS.ProcessEnv = {}): unknown => {
    try {
      parseSettings(argv, env);
    } catch (err) {
      return (err as ContractError).issues;
    }
    return [];
  };

  test('--log-level and --metrics refuse a value outside the set, naming the allowed ones and where the value came from', () => {
    expect(issuesOf(['--log-level', 'loud'], { WEFT_METRICS: 'statsd' })).toEqual([
      { path: 'WEFT_METRICS', message: `expected 'none' or a comma-separated list of ${METRIC_SINKS.join(', ')}, got: "statsd"` },
      { path: '--log-level', message: `expected one of ${LOG_LEVELS.join(', ')}, got: "loud"` },
    ]);
    expect(issuesOf(['--metrics', 'emf,cloudwatch'])).toEqual([{ path: '--metrics', message: expect.stringMatching(/^'cloudwatch' \(PutMetricData\) is not built yet/) as unknown }]);
    expect(issuesOf(['--metrics', 'none,emf'])).toEqual([{ path: '--metrics', message: expect.stringMatching(/^expected 'none' or a comma-separated list/) as unknown }]);
  });

  test('every allowed value is accepted as given', () => {
    for (const level of LOG_LEVELS) expect(parseSettings(['--log-level', level], {}).logLevel).toBe(level);
    for (const metrics of ['none', 'emf', 'prometheus', 'prometheus, emf']) expect(parseSettings([], { WEFT_METRICS: metrics }).metrics).toBe(metrics);
  });
});
