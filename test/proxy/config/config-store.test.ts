import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sealNodeConfig } from '../../../proxy/contracts';
import type { ConfigSource } from '../../../proxy/sources/config-source';
import { ConfigStore } from '../../../proxy/config/config-store';
import { DiscoveryRouter } from '../../../proxy/endpoints/endpoint-source';
import type { EndpointSource } from '../../../proxy/endpoints/endpoint-source';
import { silentLogger } from '../../../proxy/log';
import { noCertificates } from '../../../proxy/tls/certificate-provider';
import { eventually, httpRoute, nodeBody, staticCluster } from '../harness';
import { TestPki } from '../tls/test-pki';

/** These tests use static clusters only: Cloud Map discovery answers with no endpoints. */
const noCloudMap: EndpointSource = {
  watch: (_cluster, onUpdate) => {
    onUpdate([]);
    return () => {};
  },
  close: () => {},
};

/** A config source the test pushes documents through (the interface an S3 source implements too). */
class PushSource implements ConfigSource {
  readonly location = 'push://test';
  private onChange: ((text: string) => void) | undefined;
  constructor(private first: string) {}
  async read(): Promise<string> {
    return this.first;
  }
  watch(onChange: (text: string) => void): void {
    this.onChange = onChange;
  }
  push(text: string): void {
    this.onChange!(text);
  }
  close(): void {}
}

const body = (weight: number, connectTimeoutMs: number) =>
  nodeBody({
    services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { 'a:8080': weight, 'b:8080': 1 })] }] }],
    clusters: [staticCluster('a:8080', [1111]), staticCluster('b:8080', [2222], { connectTimeoutMs })],
  });

function newStore(first: string) {
  const source = new PushSource(first);
  const store = new ConfigStore({
    source,
    endpoints: new DiscoveryRouter(noCloudMap),
    certificates: noCertificates,
    logger: silentLogger,
    expectNode: undefined,
    expectMesh: undefined,
    appPorts: undefined,
    localZone: undefined,
  });
  return { source, store };
}

test('a reload keeps the runtime (and pools) of every unchanged cluster and replaces changed ones', async () => {
  const { store } = newStore(JSON.stringify(sealNodeConfig(body(1, 1000))));
  const first = await store.start();
  await store.apply(JSON.stringify(sealNodeConfig(body(5, 2000))));
  const second = store.current!;
  expect(second.version).not.toBe(first.version);
  expect(second.clusters.get('a:8080')).toBe(first.clusters.get('a:8080'));
  expect(second.clusters.get('b:8080')).not.toBe(first.clusters.get('b:8080'));
  await store.close();
});

test('a rejected document changes nothing and is recorded; the same version is a no-op', async () => {
  const good = JSON.stringify(sealNodeConfig(body(1, 1000)));
  const { store } = newStore(good);
  const first = await store.start();
  await expect(store.apply('{"schema":"weft.dev/node-config/v1"}')).rejects.toMatchObject({ code: 'WEFT_ERR_NODE_CONFIG_INVALID' });
  expect(store.current).toBe(first);
  expect(store.lastError?.code).toBe('WEFT_ERR_NODE_CONFIG_INVALID');
  await store.apply(good);
  expect(store.current).toBe(first);
  // The good document is back: the error of the rejected one is no longer current.
  expect(store.lastError).toBeUndefined();
  await store.close();
});

test('a config referring to the mesh certificate is refused when the sidecar has none', async () => {
  const withTls = body(1, 1000);
  withTls.clusters[0] = staticCluster('a:8080', [1111], { tls: { mode: 'MUTUAL', certificate: { mesh: true }, trust: { mesh: true } } });
  const { store } = newStore(JSON.stringify(sealNodeConfig(withTls)));
  await expect(store.start()).rejects.toMatchObject({ code: 'WEFT_ERR_TLS_CONFIG_INVALID' });
});

test('a document whose later cluster cannot be built leaves no discovery subscription behind', async () => {
  // Counts live subscriptions, as a Cloud Map poller counts its subscribers (and keeps polling while any remain).
  let live = 0;
  const counting: EndpointSource = {
    watch: (_cluster, onUpdate) => {
      live++;
      onUpdate([]);
      let stopped = false;
      return () => {
        if (!stopped) live--;
        stopped = true;
      };
    },
    close: () => {},
  };
  const store = new ConfigStore({
    source: new PushSource(JSON.stringify(sealNodeConfig(body(1, 1000)))),
    endpoints: new DiscoveryRouter(counting),
    certificates: noCertificates,
    logger: silentLogger,
    expectNode: undefined,
    expectMesh: undefined,
    appPorts: undefined,
    localZone: undefined,
  });
  const first = await store.start();
  const bad = body(1, 1000);
  bad.clusters.push(
    staticCluster('c:8080', [1], { discovery: { type: 'cloudMap', namespaceName: 'demo.local', serviceName: 'c' } } as never),
    staticCluster('d:8080', [1], { loadBalancer: { policy: 'CONSISTENT_HASH' } } as never),
  );
  await expect(store.apply(JSON.stringify(sealNodeConfig(bad)))).rejects.toMatchObject({ code: 'WEFT_ERR_BALANCER_INVALID' });
  expect(store.current).toBe(first);
  expect(live).toBe(0);
  await store.close();
});

/**
 * Opens `fifo` for writing once a reader has it open: a FIFO refuses a non-blocking writer
 * (ENXIO) until then, so this is the moment the reader started reading.
 */
async function openWhenRead(fifo: string): Promise<number> {
  let fd: number | undefined;
  await eventually(() => {
    try {
      fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENXIO') return false;
      throw err;
    }
  }, `a reader of ${fifo}`);
  return fd!;
}

test('a store closed while a document waits for its TLS files applies nothing and leaves no subscription', async () => {
  let live = 0;
  let subscribed = 0;
  const counting: EndpointSource = {
    watch: (_cluster, onUpdate) => {
      live++;
      subscribed++;
      onUpdate([]);
      return () => live--;
    },
    close: () => {},
  };
  const dir = mkdtempSync(join(tmpdir(), 'weft-store-'));
  const pki = new TestPki();
  try {
    // A FIFO holds the build inside readFile until the test writes the trust into it.
    const fifo = join(dir, 'trust.pem');
    execFileSync('mkfifo', [fifo]);
    const source = new PushSource(JSON.stringify(sealNodeConfig(body(1, 1000))));
    const store = new ConfigStore({
      source,
      endpoints: new DiscoveryRouter(counting),
      certificates: noCertificates,
      logger: silentLogger,
      expectNode: undefined,
      expectMesh: undefined,
      appPorts: undefined,
      localZone: undefined,
    });
    const first = await store.start();
    const next = body(1, 1000);
    next.clusters.push(
      staticCluster('c:8080', [1], {
        discovery: { type: 'cloudMap', namespaceName: 'demo.local', serviceName: 'c' },
        tls: { mode: 'SIMPLE', trust: { file: { certificateChain: fifo } } },
      } as never),
    );
    const applying = store.apply(JSON.stringify(sealNodeConfig(next)));
    const writer = await openWhenRead(fifo);
    await store.close();
    writeSync(writer, pki.read(pki.ca('ca'), 'ca.pem'));
    closeSync(writer);
    await applying;
    expect(store.current).toBe(first);
    // The build finished after close (cluster c subscribed), and what it built was undone.
    expect(subscribed).toBe(1);
    expect(live).toBe(0);
  } finally {
    pki.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});
