import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ACMPCAClient,
  GetCertificateAuthorityCertificateCommand,
  GetCertificateCommand,
  IssueCertificateCommand,
  RequestInProgressException,
} from '@aws-sdk/client-acm-pca';
import { API_PASSTHROUGH_TEMPLATE_ARN, createPcaAuthority } from '../../../lambda/aws/pca';
import { createLocalCa } from '../../../lambda/certificates/local-ca';
import { generateKeyAndCsr } from '../../../lambda/certificates/csr';
import { awsError, instantRetry } from '../aws-errors';
import { mockSdk } from '../sdk-mock';

const CA_ARN = 'arn:aws:acm-pca:eu-west-1:111122223333:certificate-authority/abc';
const CERT_ARN = `${CA_ARN}/certificate/def`;
const SPIFFE = 'spiffe://shop.local/ns/shop/sa/orders';
const client = new ACMPCAClient({ region: 'eu-west-1' });
const pca = mockSdk(client);

let dir: string;
let rootPem: string;
let leafPem: string;
let csrPem: string;
beforeAll(async () => {
  // Real PEMs from the local CA stand in for what Private CA returns.
  dir = mkdtempSync(join(tmpdir(), 'weft-pca-'));
  const local = createLocalCa({ dir });
  rootPem = await local.caCertificatePem();
  csrPem = (await generateKeyAndCsr(SPIFFE, 'orders')).csrPem;
  leafPem = (await local.issue(csrPem, SPIFFE, 7)).certificatePem;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => pca.reset());

const inProgress = () => new RequestInProgressException({ message: 'still issuing', $metadata: {} });

describe('Private CA adapter', () => {
  test('IssueCertificate uses the APIPassthrough template with the SPIFFE URI SAN', async () => {
    pca.on(IssueCertificateCommand).resolves({ CertificateArn: CERT_ARN });
    pca.on(GetCertificateCommand).resolves({ Certificate: leafPem, CertificateChain: rootPem });
    const out = await createPcaAuthority({ certificateAuthorityArn: CA_ARN }, client).issue(csrPem, SPIFFE, 7);
    const input = pca.commandCalls(IssueCertificateCommand)[0].args[0].input;
    expect(input).toEqual({
      CertificateAuthorityArn: CA_ARN,
      Csr: Buffer.from(csrPem, 'utf8'),
      SigningAlgorithm: 'SHA256WITHECDSA',
      TemplateArn: API_PASSTHROUGH_TEMPLATE_ARN,
      Validity: { Type: 'DAYS', Value: 7 },
      ApiPassthrough: { Extensions: { SubjectAlternativeNames: [{ UniformResourceIdentifier: SPIFFE }] } },
      IdempotencyToken: expect.stringMatching(/^[0-9a-f]{36}$/),
    });
    expect(API_PASSTHROUGH_TEMPLATE_ARN).toBe('arn:aws:acm-pca:::template/EndEntityCertificate_APIPassthrough/V1');
    expect(pca.commandCalls(GetCertificateCommand)[0].args[0].input).toEqual({ CertificateAuthorityArn: CA_ARN, CertificateArn: CERT_ARN });
    // The root is not part of the chain a node sends.
    expect(out).toEqual({ certificatePem: leafPem.trim() + '\n', chainPem: '' });
  });

  test('GetCertificate is polled with backoff while issuance is in progress', async () => {
    const sleeps: number[] = [];
    pca.on(IssueCertificateCommand).resolves({ CertificateArn: CERT_ARN });
    pca.on(GetCertificateCommand).rejectsOnce(inProgress()).rejectsOnce(inProgress()).rejectsOnce(inProgress()).resolves({ Certificate: leafPem });
    await createPcaAuthority({ certificateAuthorityArn: CA_ARN, sleep: async (ms) => void sleeps.push(ms) }, client).issue(csrPem, SPIFFE, 7);
    expect(pca.commandCalls(GetCertificateCommand)).toHaveLength(4);
    expect(sleeps).toEqual([200, 300, 450]);
    expect(pca.commandCalls(IssueCertificateCommand)).toHaveLength(1);
  });

  test('issuance that never completes is WEFT_ERR_CERT_ISSUE_TIMEOUT', async () => {
    pca.on(IssueCertificateCommand).resolves({ CertificateArn: CERT_ARN });
    pca.on(GetCertificateCommand).rejects(inProgress());
    const ca = createPcaAuthority({ certificateAuthorityArn: CA_ARN, issuePolls: 3, sleep: async () => undefined }, client);
    await expect(ca.issue(csrPem, SPIFFE, 7)).rejects.toMatchObject({ code: 'WEFT_ERR_CERT_ISSUE_TIMEOUT' });
    expect(pca.commandCalls(GetCertificateCommand)).toHaveLength(3);
  });

  test('throttled IssueCertificate is retried with the same idempotency token', async () => {
    const retry = instantRetry();
    pca.on(IssueCertificateCommand).rejectsOnce(awsError('ThrottlingException')).resolves({ CertificateArn: CERT_ARN });
    pca.on(GetCertificateCommand).resolves({ Certificate: leafPem });
    await createPcaAuthority({ certificateAuthorityArn: CA_ARN, retry }, client).issue(csrPem, SPIFFE, 7);
    const tokens = pca.commandCalls(IssueCertificateCommand).map((c) => c.args[0].input.IdempotencyToken);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).toBe(tokens[1]);
  });

  test('the trust bundle is the CA root', async () => {
    pca.on(GetCertificateAuthorityCertificateCommand, { CertificateAuthorityArn: CA_ARN }).resolves({ Certificate: rootPem });
    expect((await createPcaAuthority({ certificateAuthorityArn: CA_ARN }, client).caCertificatePem()).trim()).toBe(rootPem.trim());
  });
});
