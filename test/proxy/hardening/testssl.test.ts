/**
 * testssl (Debian's testssl.sh) against a STRICT inbound port of the sidecar process: only
 * TLS 1.2 with ECDHE and an AEAD cipher, and TLS 1.3, are offered. About 50 s: it tries every
 * cipher suite its openssl knows, one handshake each.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeBody, TIMEOUT } from '../harness';
import { TestPki } from '../tls/test-pki';
import { startSidecarProcess, type SidecarProcess } from './sidecar-process';

const available = spawnSync('testssl', ['--version'], { stdio: 'ignore' }).status === 0;
if (!available) console.log('testssl test skipped: testssl is not installed (apt-get install testssl.sh; .ci/run installs it)');
const withTestssl = available ? describe : describe.skip;

interface Finding {
  id: string;
  finding: string;
}

withTestssl('testssl against a STRICT inbound port', () => {
  let pki: TestPki;
  let sidecar: SidecarProcess;
  let findings: Finding[];
  let out: string;

  beforeAll(async () => {
    pki = new TestPki();
    const ca = pki.ca('mesh-ca');
    const certs = pki.leaf('server', 'spiffe://weft.test/ns/demo/sa/server', ca);
    const strict = { mode: 'STRICT' as const, certificate: { mesh: true as const }, validation: { trust: { mesh: true as const }, subjectAlternativeNames: [] } };
    sidecar = await startSidecarProcess(nodeBody({ name: 'server', inbound: [{ port: 8080, protocol: 'http', tls: strict, timeout: TIMEOUT }] }), ['--cert-source', `file:${certs}`]);
    out = mkdtempSync(join(tmpdir(), 'weft-testssl-'));
    const json = join(out, 'testssl.json');
    // -p: protocols; -E: every cipher suite per protocol. The exit code counts findings, so only the JSON file tells.
    await promisify(execFile)('testssl', ['--quiet', '--warnings', 'off', '--color', '0', '-p', '-E', '--jsonfile', json, '--ip', 'one', `127.0.0.1:${sidecar.ports.inbound}`], { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 }).catch(
      (err: { killed?: boolean }) => {
        if (err.killed) throw err;
      },
    );
    findings = JSON.parse(readFileSync(json, 'utf8')) as Finding[];
  }, 300_000);

  afterAll(async () => {
    await sidecar?.stop();
    pki?.remove();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  const finding = (id: string) => findings.find((f) => f.id === id)?.finding;

  test('SSLv2, SSLv3, TLS 1.0 and 1.1 are not offered; TLS 1.2 and 1.3 are', () => {
    for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1']) expect(finding(id)).toBe('not offered');
    expect(finding('TLS1_2')).toBe('offered');
    expect(finding('TLS1_3')).toMatch(/^offered/);
  });

  test('every TLS 1.2 suite offered is ECDHE with AEAD (GCM or ChaCha20-Poly1305); TLS 1.3 offers its AEAD suites', () => {
    const tls12 = findings.filter((f) => f.id.startsWith('cipher-tls1_2_')).map((f) => f.finding.split(/\s+/)[3]);
    expect(tls12.length).toBeGreaterThan(0);
    for (const suite of tls12) expect(suite).toMatch(/^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    const tls13 = findings.filter((f) => f.id.startsWith('cipher-tls1_3_')).map((f) => f.finding.split(/\s+/)[3]);
    expect(tls13.sort()).toEqual(['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']);
    // Nothing else was offered under another protocol.
    expect(findings.filter((f) => /^cipher-(ssl|tls1_[01]?_)/.test(f.id) && !f.id.startsWith('cipher-tls1_2_') && !f.id.startsWith('cipher-tls1_3_'))).toEqual([]);
  });
});
