/**
 * Local rate limits through real sidecars. The acceptance run drives the built sidecar in a child
 * process with a paced client at twice the limit for 10 s and counts what got through; the other
 * cases run sidecars in process on real sockets: keyed buckets, gRPC, TCP connections, the
 * gateway, the completion record and the counters, and a reload that keeps or replaces the buckets.
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import type { CompletionRecord } from '../../../proxy/exchange/record';
import type { RateLimit } from '../../../proxy/contracts';
import { freePorts } from '../../../bench/ports';
import { startSidecarProcess } from '../hardening/sidecar-process';
import { agent, eventually, gatewayBody, get, nodeBody, startUpstream, startWith, TIMEOUT, type ConfigBody, type Running, type Upstream } from '../harness';

let app: Upstream;
const running: Running[] = [];

beforeAll(async () => (app = await startUpstream('app')));
afterAll(async () => {
  await Promise.all(running.map((r) => r.close()));
  await Promise.all([app.close(), agent.close()]);
});

const limited = (rateLimit: RateLimit | Omit<RateLimit, 'statusCode'>, inbound: ConfigBody['inbound']['listeners'] = [{ port: 8080, protocol: 'http', timeout: TIMEOUT }]): ConfigBody => {
  const body = nodeBody({ name: 'orders', inbound });
  return { ...body, inbound: { ...body.inbound, policy: { rateLimit } } };
};

async function start(body: ConfigBody, records?: CompletionRecord[], appPort = app.port): Promise<Running> {
  const r = await startWith(body, { appPorts: [String(appPort)] }, records ? { onRecord: (rec) => records.push(rec) } : {});
  running.push(r);
  return r;
}

/** Sends `n` requests one after another; the statuses in order. */
async function statuses(port: number, n: number, headers: Record<string, string> = {}): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await get(port, `/r${i}`, { host: 'orders', ...headers })).status);
  return out;
}

const prometheusCounter = (text: string, name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);

describe('the acceptance run: 10 s at twice the limit, through the sidecar process', () => {
  // 50 tokens a second (5 every 100 ms); the client offers 100 a second. The burst of a second's
  // tokens means a pause of the loaded machine shorter than that loses no token.
  const LIMIT = { maxTokens: 50, tokensPerFill: 5, fillIntervalMs: 100 };
  const OFFERED_PER_S = 100;
  const RUN_MS = 10_000;

  test('accepted requests are within 10% of what the bucket allows; every refusal is 429 with retry-after', async () => {
    const [metricsPort] = await freePorts(1);
    const sidecar = await startSidecarProcess(limited(LIMIT), ['--app-ports', String(app.port), '--metrics', 'prometheus', '--metrics-port', String(metricsPort)]);
    const client = new Agent({ keepAlive: true, maxSockets: 32 });
    try {
      const seenBefore = app.seen.length;
      const results: Promise<{ status: number; headers: IncomingHttpHeaders }>[] = [];
      const send = (i: number) =>
        new Promise<{ status: number; headers: IncomingHttpHeaders }>((resolve, reject) => {
          const req = httpRequest({ host: '127.0.0.1', port: sidecar.ports.inbound, path: `/paced/${i}`, headers: { host: 'orders' }, agent: client }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
          });
          req.on('error', reject);
          req.end();
        });
      // Paced on an absolute schedule: a late timer sends what is due at once, so the offered
      // count stays OFFERED_PER_S × the run whatever the machine's load.
      const total = (OFFERED_PER_S * RUN_MS) / 1000;
      const started = performance.now();
      let i = 0;
      while (i < total) {
        const now = performance.now();
        while (i < total && started + (i * 1000) / OFFERED_PER_S <= now) results.push(send(i++));
        await new Promise((r) => setTimeout(r, 2));
      }
      const elapsedMs = performance.now() - started;
      const answers = await Promise.all(results);

      const accepted = answers.filter((a) => a.status === 200).length;
      const refused = answers.filter((a) => a.status === 429);
      expect(accepted + refused.length).toBe(total);
      // What the bucket allows over the run: the burst, plus the fills.
      const allowed = LIMIT.maxTokens + LIMIT.tokensPerFill * Math.floor(elapsedMs / LIMIT.fillIntervalMs);
      expect(Math.abs(accepted - allowed) / allowed).toBeLessThanOrEqual(0.1);
      expect(app.seen.length - seenBefore).toBe(accepted);
      // The next fill is at most 100 ms away: retry-after rounds it up to one second.
      expect(new Set(refused.map((r) => `${r.headers['retry-after']} ${r.headers['x-weft-error']}`))).toEqual(new Set(['1 WEFT_ERR_RATE_LIMITED']));
      const stats = await (await fetch(`http://127.0.0.1:${metricsPort}/stats/prometheus`)).text();
      expect(prometheusCounter(stats, 'weft_rate_limited_total')).toBe(refused.length);
    } finally {
      client.destroy();
      await sidecar.stop();
    }
  }, 60_000);
});

describe('in-process sidecars', () => {
  // No fill within a test: what a bucket admits is exactly its size.
  const HOUR = 3_600_000;

  test('over the limit: the configured status, retry-after, code, and flag RL in the record', async () => {
    const records: CompletionRecord[] = [];
    const r = await start(limited({ maxTokens: 2, tokensPerFill: 1, fillIntervalMs: HOUR, statusCode: 503 }), records);
    const port = r.handle.ports.inbound!;
    expect(await statuses(port, 2)).toEqual([200, 200]);
    const refused = await get(port, '/over', { host: 'orders' });
    expect(refused.status).toBe(503);
    expect(refused.headers['x-weft-error']).toBe('WEFT_ERR_RATE_LIMITED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(3_500);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(3_600);
    expect(app.seen.some((s) => s.url === '/over')).toBe(false);
    await eventually(() => records.length === 3, 'three completion records');
    expect(records.map((rec) => [rec.status, rec.flags, rec.errorCode])).toEqual([
      [200, expect.anything(), undefined],
      [200, expect.anything(), undefined],
      [503, 'RL', 'WEFT_ERR_RATE_LIMITED'],
    ]);
  });

  test('a gRPC request over the limit gets RESOURCE_EXHAUSTED (8)', async () => {
    const r = await start(limited({ maxTokens: 1, tokensPerFill: 1, fillIntervalMs: HOUR }));
    const port = r.handle.ports.inbound!;
    const grpc = { host: 'orders', 'content-type': 'application/grpc' };
    expect((await get(port, '/svc.Orders/Get', grpc, 'POST', '')).status).toBe(200);
    const refused = await get(port, '/svc.Orders/Get', grpc, 'POST', '');
    expect([refused.status, refused.headers['grpc-status'], refused.headers['x-weft-error']]).toEqual([200, '8', 'WEFT_ERR_RATE_LIMITED']);
    expect(refused.headers['retry-after']).toBeDefined();
  });

  test('per-key buckets isolate callers: one caller spending its bucket does not refuse another', async () => {
    const r = await start(limited({ maxTokens: 100, tokensPerFill: 1, fillIntervalMs: HOUR, perKey: [{ key: { header: 'x-user' }, maxTokens: 3, tokensPerFill: 1, fillIntervalMs: HOUR, maxKeys: 10 }] }));
    const port = r.handle.ports.inbound!;
    expect(await statuses(port, 5, { 'x-user': 'greedy' })).toEqual([200, 200, 200, 429, 429]);
    expect(await statuses(port, 3, { 'x-user': 'polite' })).toEqual([200, 200, 200]);
    // No key: held by the node bucket only.
    expect(await statuses(port, 4)).toEqual([200, 200, 200, 200]);
  });

  test('a TCP listener: each connection takes a token; one over the limit is closed before the app sees it', async () => {
    // The app answers what it reads and closes.
    const tcpApp = createNetServer((s) => s.on('error', () => undefined).on('data', (d) => s.end(`echo:${d}`)));
    await new Promise<void>((r) => tcpApp.listen(0, '127.0.0.1', r));
    const tcpPort = (tcpApp.address() as { port: number }).port;
    const r = await start(limited({ maxTokens: 2, tokensPerFill: 1, fillIntervalMs: HOUR }, [{ port: 5432, protocol: 'tcp', timeout: TIMEOUT }]), undefined, tcpPort);
    const exchange = (text: string) =>
      new Promise<string>((resolve) => {
        const s = netConnect({ host: '127.0.0.1', port: r.handle.ports.inbound! }, () => s.write(text));
        let got = '';
        s.on('data', (d) => (got += d));
        s.on('error', () => undefined);
        s.on('close', () => resolve(got));
      });
    expect([await exchange('a'), await exchange('b'), await exchange('c')]).toEqual(['echo:a', 'echo:b', '']);
    expect(r.handle.tcpStats.refused).toEqual({ WEFT_ERR_RATE_LIMITED: 1 });
    await new Promise((done) => tcpApp.close(done));
  });

  test("the gateway enforces its own limit on its listeners", async () => {
    const r = await startWith(gatewayBody(app.port, { rateLimit: { maxTokens: 2, tokensPerFill: 1, fillIntervalMs: HOUR } }), {}, { bindGatewayPort: () => 0 });
    running.push(r);
    expect(await statuses(r.handle.ports.gateway[8443], 3)).toEqual([200, 200, 429]);
  });

  test('a reload that keeps the limit keeps the bucket (no fresh burst); a changed limit starts a full one', async () => {
    const limit = { maxTokens: 2, tokensPerFill: 1, fillIntervalMs: HOUR };
    const body = limited(limit);
    const r = await start(body);
    const port = r.handle.ports.inbound!;
    const reload = async (next: ConfigBody) => {
      const before = r.handle.store.current!.version;
      r.config.write(next);
      await eventually(() => r.handle.store.current!.version !== before, 'the new config to be applied');
    };
    expect(await statuses(port, 3)).toEqual([200, 200, 429]);
    // Something else changes (the listener timeout): same limit, same empty bucket.
    await reload({ ...body, inbound: { ...body.inbound, listeners: [{ port: 8080, protocol: 'http', timeout: { ...TIMEOUT, perRequestMs: 10_000 } }] } });
    expect(await statuses(port, 1)).toEqual([429]);
    await reload(limited({ ...limit, maxTokens: 3 }));
    expect(await statuses(port, 4)).toEqual([200, 200, 200, 429]);
  });
});
