import * as cdk from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EMF_NAMESPACE } from '../../proxy/contracts/metrics-catalog';
import { Mesh, MeshAlarms, VirtualService, VirtualServiceProvider, type IVirtualService, type MeshAlarmsOptions } from '../../lib';
import { notInCatalog, referencesInAlarm, type AlarmProperties } from './cloudwatch-references';
import { newStack } from './synth-helpers';

function meshWithServices(names: string[]): { stack: cdk.Stack; mesh: Mesh; services: IVirtualService[] } {
  const stack = newStack();
  const mesh = new Mesh(stack, 'Mesh', { meshName: 'shop' });
  const services = names.map((n, i) => new VirtualService(stack, `Service${i}`, { virtualServiceName: n, virtualServiceProvider: VirtualServiceProvider.none(mesh) }));
  return { stack, mesh, services };
}

function alarms(stack: cdk.Stack): Record<string, AlarmProperties> {
  const found = Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm');
  return Object.fromEntries(Object.entries(found).map(([id, r]) => [id, r.Properties as AlarmProperties]));
}

describe('MeshAlarms', () => {
  test('defaults: a mesh-wide Metrics Insights certificate alarm, and 5xx and p99 alarms per listed service', () => {
    // GIVEN
    const { stack, mesh, services } = meshWithServices(['orders.shop.local', 'cart.shop.local']);
    // WHEN
    mesh.addAlarms('Alarms', { virtualServices: services });
    // THEN
    const all = alarms(stack);
    expect(Object.keys(all)).toHaveLength(5);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 2 * 86_400,
      EvaluationPeriods: 2,
      TreatMissingData: 'notBreaching',
      Metrics: [{ Expression: `SELECT MIN(CertificateExpiry) FROM SCHEMA("${EMF_NAMESPACE}", Mesh, Node) WHERE Mesh = 'shop'`, Period: 900, ReturnData: true, Id: Match.anyValue(), Label: Match.anyValue() }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp('orders.shop.local at or above 5%'),
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 5,
      EvaluationPeriods: 5,
      Metrics: Match.arrayWith([Match.objectLike({ Expression: '100*FILL(e,0)/r', ReturnData: true })]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: EMF_NAMESPACE,
      ExtendedStatistic: 'p99',
      Threshold: 1000,
      Period: 60,
      EvaluationPeriods: 5,
      Dimensions: Match.arrayWith([{ Name: 'VirtualService', Value: 'cart.shop.local' }]),
    });
    // Every metric the alarms read is one the catalog says the sidecar writes.
    const refs = Object.entries(all).flatMap(([id, p]) => referencesInAlarm(p, id));
    expect(refs.length).toBeGreaterThanOrEqual(5);
    expect(notInCatalog(refs, EMF_NAMESPACE)).toEqual([]);
  });

  test('thresholds, periods, evaluation counts and the SNS action follow the props', () => {
    // GIVEN
    const { stack, mesh, services } = meshWithServices(['orders.shop.local']);
    const topic = new sns.Topic(stack, 'Pager');
    // WHEN
    new MeshAlarms(stack, 'Alarms', {
      mesh,
      virtualServices: services,
      topic,
      serverErrorPercent: 1.5,
      serverErrorPeriod: cdk.Duration.minutes(5),
      serverErrorEvaluationPeriods: 3,
      latencyP99: cdk.Duration.millis(250),
      latencyPeriod: cdk.Duration.minutes(2),
      latencyEvaluationPeriods: 4,
      certificateDaysLeft: 3,
      certificatePeriod: cdk.Duration.hours(1),
      certificateEvaluationPeriods: 1,
    });
    // THEN
    const all = Object.values(alarms(stack));
    expect(all).toHaveLength(3);
    const topicRef = { Ref: stack.getLogicalId(topic.node.defaultChild as sns.CfnTopic) };
    for (const a of all) expect(a.AlarmActions).toEqual([topicRef]);
    const byKind = (pattern: RegExp) => all.filter((a) => pattern.test(String(a.AlarmDescription)));
    expect(byKind(/5xx/).map((a) => [a.Threshold, a.EvaluationPeriods, (a.Metrics ?? []).flatMap((m) => (m.MetricStat ? [m.MetricStat.Period] : []))])).toEqual([[1.5, 3, [300, 300]]]);
    expect(byKind(/p99/).map((a) => [a.Threshold, a.Period, a.EvaluationPeriods])).toEqual([[250, 120, 4]]);
    expect(byKind(/certificate/).map((a) => [a.Threshold, a.EvaluationPeriods, (a.Metrics as { Period: number }[])[0].Period])).toEqual([[3 * 86_400, 1, 3600]]);
  });

  test.each<[MeshAlarmsOptions, RegExp]>([
    [{ serverErrorPercent: 0 }, /serverErrorPercent must be a positive number, got: 0/],
    [{ serverErrorPercent: 101 }, /serverErrorPercent must be at most 100, got: 101/],
    [{ latencyP99: cdk.Duration.millis(0) }, /latencyP99 must be a positive number, got: 0/],
    [{ certificateDaysLeft: -1 }, /certificateDaysLeft must be a positive number, got: -1/],
    [{ latencyPeriod: cdk.Duration.seconds(90) }, /latencyPeriod must be a whole number of minutes.*got: 90 s/],
    [{ serverErrorEvaluationPeriods: 0 }, /serverErrorEvaluationPeriods must be a positive integer, got: 0/],
    [{ certificatePeriod: cdk.Duration.hours(6), certificateEvaluationPeriods: 5 }, /certificatePeriod times certificateEvaluationPeriods must be at most one day.*got: 21600 s x 5/],
  ])('refuses %p', (options, error) => {
    const { mesh } = meshWithServices([]);
    expect(() => mesh.addAlarms('Alarms', options)).toThrow(error);
  });

  test('refuses more than 5 actions per alarm', () => {
    const { stack, mesh } = meshWithServices([]);
    const topic = new sns.Topic(stack, 'Pager');
    const action = { bind: () => ({ alarmActionArn: topic.topicArn }) };
    expect(() => mesh.addAlarms('Alarms', { topic, alarmActions: [action, action, action, action, action] })).toThrow(/at most 5 actions per alarm.*got: 6/);
  });

  test('AwsSolutions checks: the alarms add no finding', () => {
    // GIVEN
    const plain = meshWithServices(['orders.shop.local']);
    const withAlarms = meshWithServices(['orders.shop.local']);
    // WHEN
    withAlarms.mesh.addAlarms('Alarms', { virtualServices: withAlarms.services });
    // THEN
    const findings = (stack: cdk.Stack) => new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName).sort();
    expect(findings(withAlarms.stack)).toEqual(findings(plain.stack));
  });
});
