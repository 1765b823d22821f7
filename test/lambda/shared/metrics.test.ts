/** The controllers' EMF line: the structure CloudWatch Logs needs to extract the metrics, with catalog names. */
import { EMF_CONTROLLER_DIMENSIONS, EMF_CONTROLLER_METRICS, EMF_NAMESPACE } from '../../../proxy/contracts/metrics-catalog';
import { jsonLogger } from '../../../lambda/shared/log';
import { logControllerMetrics } from '../../../lambda/shared/metrics';

test('one JSON log line is an EMF document: namespace, the Mesh + Controller set as string members, each metric a member', () => {
  const lines: string[] = [];
  logControllerMetrics(jsonLogger('certificate-sync', (l) => lines.push(l)), 'demo', 'certificate-sync', { certificatesIssued: 2, certificatesRotated: 1, failures: 0 });
  expect(lines).toHaveLength(1);
  const doc = JSON.parse(lines[0]) as Record<string, unknown> & { _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } };
  expect(Number.isInteger(doc._aws.Timestamp)).toBe(true);
  const [directive] = doc._aws.CloudWatchMetrics;
  expect(directive.Namespace).toBe(EMF_NAMESPACE);
  expect(directive.Dimensions).toEqual([[...EMF_CONTROLLER_DIMENSIONS]]);
  for (const d of EMF_CONTROLLER_DIMENSIONS) expect(typeof doc[d]).toBe('string');
  expect(directive.Metrics).toEqual([
    { Name: EMF_CONTROLLER_METRICS.certificatesIssued.name, Unit: 'Count' },
    { Name: EMF_CONTROLLER_METRICS.certificatesRotated.name, Unit: 'Count' },
    { Name: EMF_CONTROLLER_METRICS.failures.name, Unit: 'Count' },
  ]);
  expect([doc.Mesh, doc.Controller, doc.CertificatesIssued, doc.CertificatesRotated, doc.Failures]).toEqual(['demo', 'certificate-sync', 2, 1, 0]);
});
