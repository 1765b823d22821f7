/**
 * The route stack seam: a layer compiled into a route sees every attempt the route makes and its
 * outcome, can send the request again (replaying its body) and keeps the client's response to
 * one. A sidecar on real sockets with one dead and one live endpoint behind the route.
 */
import { createServer } from 'node:net';
import type { Readable } from 'node:stream';
import { BodyReplay } from '../../../proxy/exchange/body-replay';
import type { AttemptOutcome, Layer, ProxyRequest, ResponseHandler, RouteLayerFactory } from '../../../proxy/exchange/stack';
import { agent, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, type Running, type Upstream } from '../harness';

let app: Upstream;
let deadPort: number;
let sidecar: Running;
const seen: string[] = [];

/** Tries once more on a connection failure, with the body replayed; notes every attempt's outcome. */
const retryOnce: Layer = (next) => (req: ProxyRequest, handler: ResponseHandler) => {
  const replay = req.body === null ? undefined : new BodyReplay(req.body, 64 * 1024);
  if (replay !== undefined) req.body = replay.reader()!;
  let tries = 0;
  const send = (): void => {
    tries++;
    next(req, {
      onHeaders: (...args) => handler.onHeaders(...args),
      onData: (chunk) => handler.onData(chunk),
      onComplete: (trailers) => handler.onComplete(trailers),
      onUpgrade: (...args) => handler.onUpgrade(...args),
      onError: (kind) => {
        if (kind === 'connect' && tries < 2) {
          if (replay !== undefined) req.body = replay.reader() as Readable;
          send();
        } else handler.onError(kind);
      },
      onOutcome: (o: AttemptOutcome) => seen.push(`${req.path} try ${tries}: ${o.endpoint?.port === deadPort ? 'dead' : 'live'} ${o.status} ${o.failure ?? 'ok'}`),
    });
  };
  send();
};

const factory: RouteLayerFactory = (route) => (route.name === 'orders/retrying' ? retryOnce : undefined);

beforeAll(async () => {
  app = await startUpstream('orders');
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  deadPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  sidecar = await startWith(
    nodeBody({
      services: [
        {
          name: 'orders.demo.local',
          listeners: [
            {
              port: 8080,
              protocol: 'http',
              routes: [httpRoute('orders/retrying', { 'orders:8080': 1 }, { path: { prefix: '/retry' } }), httpRoute('orders/plain', { 'orders:8080': 1 }, { path: { prefix: '/' } }, { priority: 1 })],
            },
          ],
        },
      ],
      // Round robin over equal weights alternates: one of any two picks is the dead endpoint.
      clusters: [staticCluster('orders:8080', [deadPort, app.port])],
    }),
    {},
    { routeLayers: [factory] },
  );
});

afterAll(async () => {
  await sidecar.close();
  await Promise.all([app.close(), agent.close()]);
});

test('the layer sees each attempt and its outcome, and its second try carries the replayed body', async () => {
  const outcomes: string[][] = [];
  for (let i = 0; i < 4; i++) {
    seen.length = 0;
    const res = await get(sidecar.handle.ports.egress!, `/retry/${i}`, { host: 'orders.demo.local', 'content-type': 'text/plain' }, 'POST', `payload-${i}`);
    expect(res.status).toBe(200);
    expect(res.json().body).toBe(`payload-${i}`);
    outcomes.push([...seen]);
  }
  // Every request either reached the live endpoint first, or failed on the dead one and then reached the live one.
  for (const [i, o] of outcomes.entries()) {
    expect([[`/retry/${i} try 1: live 200 ok`], [`/retry/${i} try 1: dead 0 connect`, `/retry/${i} try 2: live 200 ok`]]).toContainEqual(o);
  }
  expect(outcomes.some((o) => o.length === 2)).toBe(true);
});

test('a route without layers goes straight to its cluster: no layer sees it', async () => {
  seen.length = 0;
  const results = await Promise.all([0, 1, 2, 3].map((i) => get(sidecar.handle.ports.egress!, `/plain/${i}`, { host: 'orders.demo.local' })));
  // The dead endpoint is out of rotation after its first refused connect, and a bodiless request
  // that meets a refused connect goes to the other endpoint at the attempt, below every layer.
  expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
  expect(seen).toEqual([]);
});
