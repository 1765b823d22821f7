/**
 * Transparent mode for real: two network namespaces joined by a veth pair (10.x addresses that
 * exist only inside them), the ECS APPMESH ProxyConfiguration's iptables rules in each, and a
 * sidecar in each running as uid 1337. Apps that know nothing of the mesh call each other by
 * address; the sidecars' admin /stats prove the calls went through both.
 * Everything the sidecars read (bundle, native addon, configs) is put in the run's scratch
 * directory, so a clone that uid 1337 cannot traverse (a 0700 home, /root) runs the suite too.
 * Needs root, `ip`, `iptables`, `setpriv`, netns support and a uid 1337 that can run node and
 * reach the scratch directory; otherwise the suite is skipped with the reason.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { sealNodeConfig } from '../../../proxy/contracts';
import { SIDECAR_UID } from '../../../proxy/contracts/settings';
import { addonCandidates } from '../../../proxy/tcp/original-dst';
import { eventually, httpRoute, nodeBody, staticCluster, tcpRoute, TIMEOUT } from '../harness';
import { TestPki } from '../tls/test-pki';
import { appMeshRules } from './iptables-rules';

const id = `${process.pid % 100000}`;
const NS_A = `weft-a-${id}`;
const NS_B = `weft-b-${id}`;
const subnet = `10.${200 + (process.pid % 50)}.${process.pid % 250}`;
const IP_A = `${subnet}.1`;
const IP_B = `${subnet}.2`;
const INGRESS = 15000;
const EGRESS = 15001;
const ADMIN = 9901;
const HTTP_PORT = 8080;
const TCP_PORT = 9000;
const TCP_PORT_2 = 9001;
const TLS_PORT = 8443;

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

function whyNot(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['ip', 'iptables', 'setpriv']) {
    try {
      run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `no ${tool} on PATH`;
    }
  }
  try {
    run('ip', ['netns', 'add', `weft-probe-${id}`]);
    run('ip', ['netns', 'del', `weft-probe-${id}`]);
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message.split('\n')[0]}`;
  }
  try {
    const reach = `const fs = require('fs'); fs.accessSync(${JSON.stringify(tmpdir())}, fs.constants.X_OK)`;
    run('setpriv', [...asSidecar(), process.execPath, '-e', reach]);
  } catch (err) {
    const why = (err as { stderr?: Buffer }).stderr?.toString().trim().split('\n').find((l) => /Error|denied/.test(l)) ?? (err as Error).message.split('\n')[0];
    return `uid ${SIDECAR_UID} cannot run ${process.execPath} or reach the scratch directory ${tmpdir()}: ${why}`;
  }
  return undefined;
}

/** setpriv's arguments that drop to the sidecar's uid and gid. */
function asSidecar(): string[] {
  return [`--reuid=${SIDECAR_UID}`, `--regid=${SIDECAR_UID}`, '--clear-groups'];
}

const skipReason = whyNot();
if (skipReason) console.log(`transparent-mode netns tests skipped: ${skipReason}`);
const maybe = skipReason ? describe.skip : describe;
const addon = addonCandidates().find((p) => existsSync(p));

maybe('transparent mode in network namespaces (ECS APPMESH ProxyConfiguration)', () => {
  const work = mkdtempSync(join(tmpdir(), 'weft-netns-'));
  const pki = new TestPki();
  const children: ChildProcess[] = [];
  const sidecars: ChildProcess[] = [];
  const output = new Map<ChildProcess, string>();

  function inNs(ns: string, script: string): string {
    return execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 }).toString();
  }

  // The addon's copy beside the bundle, where uid 1337 can read it (the image puts it there too).
  const sidecarAddon = join(work, 'original_dst.node');

  function startIn(ns: string, args: string[], sidecar: boolean): ChildProcess {
    const cmd = sidecar ? ['setpriv', ...asSidecar(), process.execPath, ...args] : [process.execPath, ...args];
    const child = spawn('ip', ['netns', 'exec', ns, ...cmd], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(addon ? { WEFT_ORIGINAL_DST_ADDON: sidecarAddon } : {}) },
    });
    output.set(child, '');
    child.stdout!.on('data', (d) => output.set(child, output.get(child) + d.toString()));
    child.stderr!.on('data', (d) => output.set(child, output.get(child) + d.toString()));
    children.push(child);
    return child;
  }

  /** The parts of admin /stats these tests read. */
  interface AdminStats {
    listeners: Record<'inbound' | 'egress', { requests: number; responses: Record<string, number> }>;
    egress: { passthrough: number; denied: number };
    clusters: Record<string, { requests: number }>;
  }

  function stats(ns: string): AdminStats {
    return JSON.parse(inNs(ns, `fetch('http://127.0.0.1:${ADMIN}/stats').then(r => r.text()).then(t => process.stdout.write(t))`));
  }

  beforeAll(async () => {
    chmodSync(work, 0o755);
    run('ip', ['netns', 'add', NS_A]);
    run('ip', ['netns', 'add', NS_B]);
    run('ip', ['link', 'add', `wa${id}`, 'type', 'veth', 'peer', 'name', `wb${id}`]);
    run('ip', ['link', 'set', `wa${id}`, 'netns', NS_A]);
    run('ip', ['link', 'set', `wb${id}`, 'netns', NS_B]);
    for (const [ns, dev, ip] of [[NS_A, `wa${id}`, IP_A], [NS_B, `wb${id}`, IP_B]]) {
      run('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', dev]);
      run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      const rules = appMeshRules({ ignoredUid: SIDECAR_UID, appPorts: [HTTP_PORT, TCP_PORT, TCP_PORT_2], proxyIngressPort: INGRESS, proxyEgressPort: EGRESS, egressIgnoredIps: ['169.254.170.2', '169.254.169.254'], egressIgnoredPorts: [] });
      for (const rule of rules) run('ip', ['netns', 'exec', ns, 'iptables', ...rule]);
    }

    // The whole sidecar in one file, and the addon beside it, readable by uid 1337.
    const bundle = join(work, 'proxy.js');
    await build({ entryPoints: [join(__dirname, '../fixtures/proxy-entry.ts')], outfile: bundle, bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'error' });
    if (addon) {
      copyFileSync(addon, sidecarAddon);
      chmodSync(sidecarAddon, 0o644);
    }
    const write = (name: string, body: object | string): string => {
      const path = join(work, name);
      writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body));
      chmodSync(path, 0o644);
      return path;
    };
    // A calls B's TCP app through the mesh (a TCP virtual service on port 9000); HTTP, TLS and
    // TCP to other destinations pass through (ALLOW_ALL). The cluster dials B's app port: B's
    // iptables redirects it to B's inbound port, whose original destination then picks one of
    // B's two TCP listeners.
    const configA = write('a.json', sealNodeConfig(nodeBody({
      name: 'a',
      egressFilter: 'ALLOW_ALL',
      inbound: [{ port: HTTP_PORT, protocol: 'http', timeout: TIMEOUT }],
      services: [{ name: 'b-tcp.demo', listeners: [{ port: TCP_PORT, protocol: 'tcp', routes: [tcpRoute('b-tcp/route', 'b:9000')] }] }],
      clusters: [{ ...staticCluster('b:9000', [], { protocol: 'tcp', port: TCP_PORT }), discovery: { type: 'static', endpoints: [{ address: IP_B, port: TCP_PORT }] } }],
    })));
    const configB = write('b.json', sealNodeConfig(nodeBody({
      name: 'b',
      inbound: [
        { port: HTTP_PORT, protocol: 'http', timeout: TIMEOUT },
        { port: TCP_PORT, protocol: 'tcp', timeout: TIMEOUT },
        { port: TCP_PORT_2, protocol: 'tcp', timeout: TIMEOUT },
      ],
      services: [{ name: 'unused.demo', listeners: [{ port: 80, protocol: 'http', routes: [httpRoute('u/r', { 'u:80': 1 })] }] }],
      clusters: [staticCluster('u:80', [1])],
    })));
    const ca = pki.ca('ca');
    const leaf = pki.leaf('external', 'spiffe://elsewhere/external', ca);
    const appB = write('app-b.js', `
      const http = require('http'), net = require('net'), tls = require('tls'), fs = require('fs');
      http.createServer((req, res) => res.end(JSON.stringify({ app: 'b', host: req.headers.host, url: req.url }))).listen(${HTTP_PORT}, '0.0.0.0');
      net.createServer((s) => s.pipe(s)).listen(${TCP_PORT}, '0.0.0.0');
      net.createServer((s) => s.on('data', (d) => s.write('${TCP_PORT_2}:' + d))).listen(${TCP_PORT_2}, '0.0.0.0');
      tls.createServer({ key: fs.readFileSync(${JSON.stringify(join(leaf, 'key.pem'))}), cert: fs.readFileSync(${JSON.stringify(join(leaf, 'cert.pem'))}) }, (s) => s.pipe(s)).listen(${TLS_PORT}, '0.0.0.0', () => console.log('app-ready'));
    `);
    const flags = (config: string): string[] => [bundle, '--config', config, '--transparent', '--inbound-port', String(INGRESS), '--egress-port', String(EGRESS), '--admin-port', String(ADMIN), '--endpoints', `file:${write(`endpoints-${config.endsWith('a.json') ? 'a' : 'b'}.json`, [])}`];
    const app = startIn(NS_B, [appB], false);
    const sidecarA = startIn(NS_A, flags(configA), true);
    const sidecarB = startIn(NS_B, flags(configB), true);
    sidecars.push(sidecarA, sidecarB);
    await eventually(() => output.get(app)!.includes('app-ready'), 'app B to listen');
    for (const s of [sidecarA, sidecarB]) await eventually(() => output.get(s)!.includes('"sidecar_started"') || s.exitCode !== null, 'the sidecars to start');
    for (const s of [sidecarA, sidecarB]) if (s.exitCode !== null) throw new Error(`sidecar exited: ${output.get(s)}`);
    // Without its addon a sidecar still starts, and the plain TCP tests would fail on connect errors.
    for (const s of [sidecarA, sidecarB]) if (addon && output.get(s)!.includes('"original_dst_unavailable"')) throw new Error(`a sidecar did not load the native addon: ${output.get(s)}`);
  }, 30_000);

  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    for (const ns of [NS_A, NS_B]) {
      try {
        run('ip', ['netns', 'del', ns]); // removes its veth end, its iptables rules and conntrack with it
      } catch {
        // already gone
      }
    }
    rmSync(work, { recursive: true, force: true });
    pki.remove();
  });

  it('runs the sidecars as uid 1337, the IgnoredUID whose traffic is not redirected', () => {
    // `ip netns exec` and setpriv exec in place: the spawned pid is the sidecar itself.
    for (const c of sidecars) {
      const uidLine = readFileSync(`/proc/${c.pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'));
      expect(uidLine?.split(/\s+/).slice(1, 3)).toEqual([String(SIDECAR_UID), String(SIDECAR_UID)]);
    }
  });

  it('routes a plain http.get by address through both sidecars', () => {
    const out = inNs(NS_A, `require('http').get('http://${IP_B}:${HTTP_PORT}/plain', (res) => { let b=''; res.on('data', d => b += d); res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body: JSON.parse(b) }))); })`);
    const result = JSON.parse(out);
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ app: 'b', url: '/plain' });
    const a = stats(NS_A);
    const b = stats(NS_B);
    expect(a.listeners.egress.requests).toBe(1);
    expect(a.egress.passthrough).toBe(1);
    expect(b.listeners.inbound.requests).toBe(1);
    expect(b.listeners.inbound.responses['2xx']).toBe(1);
  });

  (addon ? it : it.skip)('takes the port the app dialled from the original destination when Host names none', () => {
    const out = inNs(NS_A, `require('http').get({ host: '${IP_B}', port: ${HTTP_PORT}, path: '/no-port', headers: { host: '${IP_B}' } }, (res) => { let b=''; res.on('data', d => b += d); res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body: JSON.parse(b) }))); }).on('error', (e) => process.stdout.write(JSON.stringify({ error: e.message })))`);
    expect(JSON.parse(out)).toMatchObject({ status: 200, body: { app: 'b', url: '/no-port', host: IP_B } });
  });

  it('passes HTTPS through by SNI: the handshake completes end to end with the app\'s certificate', () => {
    const before = stats(NS_A).egress.passthrough;
    const out = inNs(NS_A, `
      const s = require('tls').connect({ host: '${IP_B}', port: ${TLS_PORT}, servername: 'api.external.test', ca: require('fs').readFileSync(${JSON.stringify(join(pki.root, 'ca', 'ca.pem'))}), checkServerIdentity: () => undefined }, () => {
        s.write('sni-ping');
        s.once('data', (d) => { process.stdout.write(JSON.stringify({ authorized: s.authorized, subject: s.getPeerCertificate().subject.CN, echo: d.toString() })); s.destroy(); });
      });
      s.on('error', (e) => { process.stdout.write(JSON.stringify({ error: e.message })); });`);
    expect(JSON.parse(out)).toEqual({ authorized: true, subject: 'external', echo: 'sni-ping' });
    expect(stats(NS_A).egress.passthrough).toBe(before + 1);
  });

  (addon ? it : it.skip)('routes plain TCP by original destination through the mesh (native addon)', async () => {
    const inboundBefore = stats(NS_B).listeners.inbound.requests;
    const out = inNs(NS_A, `
      const s = require('net').connect(${TCP_PORT}, '${IP_B}', () => s.write('tcp-ping'));
      s.once('data', (d) => { process.stdout.write(d.toString()); s.destroy(); });
      s.on('error', (e) => process.stdout.write('error: ' + e.message));`);
    expect(out).toBe('tcp-ping');
    const a = stats(NS_A);
    expect(a.clusters['b:9000'].requests).toBe(1);
    await eventually(() => stats(NS_B).listeners.inbound.requests === inboundBefore + 1, 'B counts the TCP connection');
  });

  (addon ? it : it.skip)('passes plain TCP outside the mesh through; the peer picks its TCP listener by original destination', () => {
    const before = { a: stats(NS_A).egress.passthrough, b: stats(NS_B).listeners.inbound.requests };
    const out = inNs(NS_A, `
      const s = require('net').connect(${TCP_PORT_2}, '${IP_B}', () => s.write('second'));
      s.once('data', (d) => { process.stdout.write(d.toString()); s.destroy(); });
      s.on('error', (e) => process.stdout.write('error: ' + e.message));`);
    expect(out).toBe(`${TCP_PORT_2}:second`);
    expect(stats(NS_A).egress.passthrough).toBe(before.a + 1);
    expect(stats(NS_B).listeners.inbound.requests).toBe(before.b + 1);
  });
});
