/**
 * The `file:<dir>` certificate source keeps a certificate that works: a rotation to another node's
 * identity or to an expired certificate is refused, and an expired certificate does not start.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../../proxy/log';
import { FileCertificateProvider } from '../../../proxy/tls/certificate-provider';
import { eventually } from '../harness';
import { TestPki } from './test-pki';

const ORDERS = 'spiffe://weft.test/ns/demo/sa/orders';
const BILLING = 'spiffe://weft.test/ns/demo/sa/billing';
const pki = new TestPki();
const events: { event: string; message?: string }[] = [];
const logger: Logger = { log: (_level, event, fields) => void events.push({ event, message: fields?.message as string | undefined }) };
/** Whether a reload was refused with a message containing `text`: a refusal of the files as finally written. */
const refused = (text: string): boolean => events.some((e) => e.event === 'certificate_reload_failed' && e.message?.includes(text) === true);
let ca: string;

beforeAll(() => {
  ca = pki.ca('ca');
});
afterAll(() => pki.remove());
beforeEach(() => (events.length = 0));

/** A certificate directory of its own, with the files of `from`. */
function directoryFrom(from: string): string {
  const dir = mkdtempSync(join(pki.root, 'node-'));
  for (const f of ['key.pem', 'cert.pem', 'chain.pem', 'trust-bundle.pem']) copyFileSync(join(from, f), join(dir, f));
  return dir;
}

/** Replaces key and certificate as a rotation does. */
function rotate(dir: string, from: string): void {
  writeFileSync(join(dir, 'key.pem'), readFileSync(join(from, 'key.pem')));
  writeFileSync(join(dir, 'cert.pem'), readFileSync(join(from, 'cert.pem')));
}

/** Writes a key and a certificate for ORDERS that expired yesterday. */
async function writeExpired(dir: string): Promise<void> {
  const { keyPem, certPem } = await pki.expired(ORDERS);
  writeFileSync(join(dir, 'key.pem'), keyPem);
  writeFileSync(join(dir, 'cert.pem'), certPem);
}

test('a rotation to another node\'s identity is refused; a rotation of its own goes through', async () => {
  const dir = directoryFrom(pki.leaf('orders-1', ORDERS, ca));
  const provider = new FileCertificateProvider(dir, logger);
  await provider.start();
  let changes = 0;
  provider.onChange(() => changes++);
  try {
    rotate(dir, pki.leaf('billing', BILLING, ca));
    // The key and the certificate are written apart: a reload between the two fails on the pair.
    // Only the files as finally written name the other identity.
    await eventually(() => refused(`certificate names ${BILLING}`), 'the other identity refused', 3_000);
    expect(provider.current()!.spiffeId).toBe(ORDERS);
    expect(changes).toBe(0);
    const next = pki.leaf('orders-2', ORDERS, ca);
    rotate(dir, next);
    await eventually(() => provider.current()!.certificateChainPem === pki.read(next, 'cert.pem'), 'its own rotation applied', 3_000);
    expect(changes).toBeGreaterThan(0);
  } finally {
    provider.close();
  }
});

test('an expired certificate never replaces a working one, and a sidecar does not start with one', async () => {
  const dir = directoryFrom(pki.leaf('orders-3', ORDERS, ca));
  const provider = new FileCertificateProvider(dir, logger);
  await provider.start();
  const working = provider.current()!.certificateChainPem;
  try {
    await writeExpired(dir);
    // As above: only the files as finally written are a pair that has expired.
    await eventually(() => refused('expired at'), 'the expired certificate refused', 3_000);
    expect(provider.current()!.certificateChainPem).toBe(working);
  } finally {
    provider.close();
  }
  await expect(new FileCertificateProvider(dir, logger).start()).rejects.toMatchObject({ code: 'WEFT_ERR_CERTIFICATE_UNREADABLE', message: expect.stringContaining('expired at') });
});
