/**
 * The sidecar and the node config fields it does not apply yet: it runs without the resilience
 * and telemetry ones and says so once per config version, and it refuses security policy it does
 * not enforce (rate limits).
 */
import { sealNodeConfig } from '../../../proxy/contracts';
import { startSidecar } from '../../../proxy/main';
import type { Logger } from '../../../proxy/log';
import { ConfigDir, eventually, httpRoute, nodeBody, startUpstream, startWith, staticCluster, testSettings, type ConfigBody, type Upstream } from '../harness';

let upstream: Upstream;
beforeAll(async () => {
  upstream = await startUpstream('orders');
});
afterAll(() => upstream.close());

/** A logger that keeps what it is given. */
function recordingLogger(): Logger & { events: { level: string; event: string; fields: Record<string, unknown> }[] } {
  const events: { level: string; event: string; fields: Record<string, unknown> }[] = [];
  return { events, log: (level, event, fields = {}) => events.push({ level, event, fields }) };
}

const MIRROR = { cluster: 'orders:8080', percentage: 10 };
const RETRIES = { maxRetries: 3, perTryTimeoutMs: 1_000, httpRetryEvents: ['server-error'] };
const withAccessLog = (b: ConfigBody, path: string): ConfigBody => ({ ...b, logging: { accessLog: { path } } });

/** One backend service routed to the upstream, with `route` overrides and `inbound` policy. */
const body = (route: Record<string, unknown> = {}, policy: ConfigBody['inbound']['policy'] = {}): ConfigBody => {
  const b = nodeBody({
    services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { 'orders:8080': 1 }, undefined, route)] }] }],
    clusters: [staticCluster('orders:8080', [upstream.port])],
  });
  return { ...b, inbound: { ...b.inbound, policy } };
};

const HEALTH_CHECK = { protocol: 'http' as const, path: '/health', intervalMs: 5_000, timeoutMs: 2_000, healthyThreshold: 2, unhealthyThreshold: 2 };

/** A gateway whose listener has a health check (not run by a gateway's sidecar yet), routed to the upstream's service. */
const gatewayBody = (route: Record<string, unknown> = {}): ConfigBody => ({
  ...body(route),
  node: { kind: 'virtualGateway', name: 'edge', spiffeId: 'spiffe://weft.test/ns/demo/sa/edge' },
  inbound: { listeners: [], policy: {} },
  gateway: {
    listeners: [{ port: 8080, protocol: 'http', healthCheck: HEALTH_CHECK }],
    routes: [{ name: 'edge/r', priority: 0, protocol: 'http', match: { path: { prefix: '/' }, port: 8080 }, target: { virtualService: 'orders.demo.local' }, rewrite: {} }],
    policy: {},
  },
});

test("a gateway listener's health check loads, and `config_fields_not_applied` is logged once per version", async () => {
  const logger = recordingLogger();
  const sidecar = await startWith(gatewayBody(), {}, { logger, bindGatewayPort: () => 0 });
  try {
    const notApplied = () => logger.events.filter((e) => e.event === 'config_fields_not_applied');
    const first = sidecar.handle.store.current!.version;
    expect(notApplied()).toEqual([{ level: 'warn', event: 'config_fields_not_applied', fields: { version: first, fields: ['gateway.listeners[0].healthCheck'] } }]);

    // A rebuild of the same version (as after a certificate rotation) does not log it again.
    await sidecar.handle.store.refresh();
    expect(notApplied()).toHaveLength(1);

    // A new version is logged once more, with its own fields (retries, mirrors and access logs are applied: not among them).
    const next = sidecar.config.write(withAccessLog(gatewayBody({ retryPolicy: RETRIES, mirror: MIRROR }), '/dev/stderr'));
    await eventually(() => sidecar.handle.store.current!.version === next.version, 'the new version to apply');
    expect(notApplied().map((e) => e.fields)).toEqual([
      { version: first, fields: ['gateway.listeners[0].healthCheck'] },
      { version: next.version, fields: ['gateway.listeners[0].healthCheck'] },
    ]);
  } finally {
    await sidecar.close();
  }
});

test('a config without such fields (an access log is applied) logs no `config_fields_not_applied`', async () => {
  const logger = recordingLogger();
  const sidecar = await startWith(withAccessLog(body(), '/dev/stderr'), {}, { logger });
  try {
    expect(logger.events.map((e) => e.event)).toContain('config_applied');
    expect(logger.events.map((e) => e.event)).not.toContain('config_fields_not_applied');
  } finally {
    await sidecar.close();
  }
});

test('a config whose inline JWKS cannot verify tokens is refused at start with WEFT_ERR_NODE_CONFIG_INVALID, naming the field', async () => {
  const config = new ConfigDir();
  try {
    const sealed = sealNodeConfig(body());
    // Written past the publisher's own check, as a hand-edited or foreign config would be.
    config.writeText(JSON.stringify({ ...sealed, inbound: { ...sealed.inbound, policy: { ...sealed.inbound.policy, jwt: [{ issuer: 'https://issuer.example', jwks: '{"keys":[]}' }] } } }));
    await expect(startSidecar(testSettings({ config: config.path }), { logger: recordingLogger() })).rejects.toMatchObject({
      code: 'WEFT_ERR_NODE_CONFIG_INVALID',
      issues: [{ path: 'inbound.policy.jwt[0].jwks', message: expect.stringMatching(/has no keys/) }],
    });
  } finally {
    config.remove();
  }
});

test('a reload to a config with an authorization policy, JWT rules and a rate limit applies it: all three are enforced, none is refused', async () => {
  const logger = recordingLogger();
  const sidecar = await startWith(body(), {}, { logger });
  try {
    const good = sidecar.handle.store.current!;
    sidecar.config.write(body({}, { authorization: [{ name: 'deny-admin', action: 'DENY', rules: [{ to: [{ paths: ['/admin*'] }] }] }], jwt: [{ issuer: 'https://issuer.example', jwksUri: 'https://issuer.example/jwks.json' }], rateLimit: { maxTokens: 10, tokensPerFill: 1, fillIntervalMs: 1_000 } }));
    await eventually(() => sidecar.handle.store.current !== good, 'the policy config to be applied');
    expect(sidecar.handle.store.lastError).toBeUndefined();
    expect(sidecar.handle.store.current!.config.inbound.policy.rateLimit).toMatchObject({ maxTokens: 10 });
    expect(logger.events.filter((e) => e.event === 'config_rejected')).toEqual([]);
  } finally {
    await sidecar.close();
  }
});
