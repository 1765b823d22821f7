/** The bench's generated inputs: certificates, node configs and CPU profile summaries. */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CERTIFICATE_FILES, parseNodeConfig, serializeNodeConfig } from '../../proxy/contracts';
import { generateMeshCertificates } from '../../bench/certs';
import { findProfiles, summarizeProfile } from '../../bench/cpu-profile';
import { BENCH_SERVICE, inboundNodeConfig, outboundNodeConfig } from '../../bench/weft-configs';
import { hasCommand } from '../../bench/tools';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-bench-fixtures-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

(hasCommand('openssl') ? describe : describe.skip)('generateMeshCertificates', () => {
  test('one directory per identity in the CERTIFICATE_FILES layout, leaves verify against the root', () => {
    const certs = generateMeshCertificates(join(dir, 'certs'), ['client', 'server']);
    for (const node of ['client', 'server']) {
      const files = certs.get(node)!;
      for (const name of Object.values(CERTIFICATE_FILES)) expect(existsSync(join(files.dir, name))).toBe(true);
      const leaf = new X509Certificate(readFileSync(files.certificate));
      expect(leaf.subjectAltName).toContain(`URI:spiffe://bench/ns/bench/sa/${node}`);
      expect(leaf.verify(new X509Certificate(readFileSync(files.trustBundle)).publicKey)).toBe(true);
      expect(readFileSync(files.privateKey, 'utf8')).toContain('BEGIN PRIVATE KEY');
      expect(execFileSync('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', files.trustBundle, files.certificate], { encoding: 'utf8' })).toContain('OK');
    }
  });
});

describe('bench node configs', () => {
  test('the outbound config parses under the contract and routes the bench service to its cluster', () => {
    const config = outboundNodeConfig({ node: 'client', targetNode: 'server', targetPort: 8080, endpointPort: 15000, mtls: true });
    expect(parseNodeConfig(serializeNodeConfig(config))).toEqual(config);
    expect(config.outbound.services[0].name).toBe(BENCH_SERVICE);
    expect(config.clusters[0]).toMatchObject({
      name: 'server:8080',
      discovery: { type: 'static', endpoints: [{ address: '127.0.0.1', port: 15000 }] },
      tls: { mode: 'MUTUAL', subjectAlternativeNames: ['spiffe://bench/ns/bench/sa/server'] },
    });
  });

  test('the inbound config requires client certificates', () => {
    const config = inboundNodeConfig('server', 8080);
    expect(parseNodeConfig(serializeNodeConfig(config))).toEqual(config);
    expect(config.inbound.listeners[0]).toMatchObject({ port: 8080, tls: { mode: 'STRICT', validation: { trust: { mesh: true } } } });
  });

  test('plain one-hop config has TLS disabled', () => {
    expect(outboundNodeConfig({ node: 'client', targetNode: 'app', targetPort: 9000, endpointPort: 9000, mtls: false }).clusters[0].tls.mode).toBe('DISABLED');
  });
});

describe('CPU profile summary', () => {
  test('finds the function that burned the CPU in a real node --cpu-prof profile', () => {
    const profDir = join(dir, 'prof');
    const script = 'function benchBusyLoop(){let x=0;const end=Date.now()+300;while(Date.now()<end)x+=Math.sqrt(x+1);return x}benchBusyLoop()';
    execFileSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '-e', script], { timeout: 20_000 });
    const files = findProfiles(dir);
    expect(files).toHaveLength(1);
    const top = summarizeProfile(files[0], 5).selfTime;
    expect(top[0].frame).toMatch(/^benchBusyLoop/);
    expect(top[0].share).toBeGreaterThan(0.3);
    expect(top.reduce((s, t) => s + t.share, 0)).toBeLessThanOrEqual(1.0001);
  });
});
