import * as cdk from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { EMF_METRICS, EMF_NODE_METRICS } from '../proxy/contracts/metrics-catalog';
import type { IMesh } from './mesh';
import { emfMetric, insightsQuery, MESH, NODE, NODE_SET, SECONDS_PER_DAY, SERVICE_SET, VIRTUAL_SERVICE } from './private/mesh-metrics';
import type { IVirtualService } from './virtual-service';

/** Properties of MeshAlarms, apart from the mesh. */
export interface MeshAlarmsOptions {
  /**
   * The virtual services that get a 5xx-rate and a p99-latency alarm each.
   * @default - none: only the mesh-wide certificate alarm
   */
  readonly virtualServices?: IVirtualService[];
  /**
   * An SNS topic notified when an alarm goes to ALARM.
   * @default - no topic
   */
  readonly topic?: sns.ITopic;
  /**
   * Further actions run when an alarm goes to ALARM (CloudWatch allows 5 per alarm, the topic
   * included).
   * @default - none
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
  /**
   * 5xx responses, as a percentage of a virtual service's requests, at or above which a period
   * breaches.
   * @default 5
   */
  readonly serverErrorPercent?: number;
  /**
   * Period of the 5xx-rate alarms.
   * @default Duration.minutes(1)
   */
  readonly serverErrorPeriod?: cdk.Duration;
  /**
   * Consecutive breaching periods before a 5xx-rate alarm fires.
   * @default 5
   */
  readonly serverErrorEvaluationPeriods?: number;
  /**
   * p99 request duration at or above which a period breaches.
   * @default Duration.seconds(1)
   */
  readonly latencyP99?: cdk.Duration;
  /**
   * Period of the p99-latency alarms.
   * @default Duration.minutes(1)
   */
  readonly latencyPeriod?: cdk.Duration;
  /**
   * Consecutive breaching periods before a p99-latency alarm fires.
   * @default 5
   */
  readonly latencyEvaluationPeriods?: number;
  /**
   * Days left on a node's mesh certificate below which a period breaches. Certificates are renewed
   * at two thirds of their lifetime (4.7 days of the default 7), so 2 days left means renewal has
   * been failing for more than 2 days.
   * @default 2
   */
  readonly certificateDaysLeft?: number;
  /**
   * Period of the certificate alarm.
   * @default Duration.minutes(15)
   */
  readonly certificatePeriod?: cdk.Duration;
  /**
   * Consecutive breaching periods before the certificate alarm fires.
   * @default 2
   */
  readonly certificateEvaluationPeriods?: number;
}

/** Properties of MeshAlarms. */
export interface MeshAlarmsProps extends MeshAlarmsOptions {
  /** The mesh whose sidecars' metrics the alarms watch. */
  readonly mesh: IMesh;
}

/**
 * Alarms on a Weft mesh's sidecar metrics (from the metric catalog):
 * - certificate expiry, mesh-wide: one Metrics Insights alarm on the smallest `CertificateExpiry`
 *   of any node, so nodes added later are covered without a new alarm;
 * - 5xx rate and p99 latency, one alarm each per virtual service listed. These cannot be mesh-wide:
 *   CloudWatch refuses alarms on SEARCH, Metrics Insights has no percentiles (AVG, COUNT, MAX,
 *   MIN, SUM only), and a ratio of two Metrics Insights queries is not an alarm CloudWatch accepts
 *   (one query per alarm). So they are metric alarms on the service's own series.
 */
export class MeshAlarms extends Construct {
  /** The certificate-expiry alarm. */
  readonly certificateExpiry: cloudwatch.Alarm;
  /** The 5xx-rate alarm of each virtual service, by virtual service name. */
  readonly serverErrors: Readonly<Record<string, cloudwatch.Alarm>> = {};
  /** The p99-latency alarm of each virtual service, by virtual service name. */
  readonly latency: Readonly<Record<string, cloudwatch.Alarm>> = {};

  constructor(scope: Construct, id: string, props: MeshAlarmsProps) {
    super(scope, id);
    const meshName = props.mesh.meshName;
    const alarmActions = [...(props.topic ? [new actions.SnsAction(props.topic)] : []), ...(props.alarmActions ?? [])];
    if (alarmActions.length > 5) throw new Error(`alarmActions: CloudWatch allows at most 5 actions per alarm (topic included), got: ${alarmActions.length}`);
    const percent = positive('serverErrorPercent', props.serverErrorPercent ?? 5);
    if (percent > 100) throw new Error(`serverErrorPercent must be at most 100, got: ${percent}`);
    const latencyMs = positive('latencyP99', (props.latencyP99 ?? cdk.Duration.seconds(1)).toMilliseconds());
    const daysLeft = positive('certificateDaysLeft', props.certificateDaysLeft ?? 2);
    const errorEvaluation = evaluation('serverError', props.serverErrorPeriod ?? cdk.Duration.minutes(1), props.serverErrorEvaluationPeriods ?? 5);
    const latencyEvaluation = evaluation('latency', props.latencyPeriod ?? cdk.Duration.minutes(1), props.latencyEvaluationPeriods ?? 5);
    const certificateEvaluation = evaluation('certificate', props.certificatePeriod ?? cdk.Duration.minutes(15), props.certificateEvaluationPeriods ?? 2);
    const withActions = (alarm: cloudwatch.Alarm) => {
      alarm.addAlarmAction(...alarmActions);
      return alarm;
    };

    // Metrics Insights: one alarm over every node of the mesh, present and future.
    const minimumExpiry = insightsQuery({ fn: 'MIN', metricName: EMF_NODE_METRICS.certificateExpiry.name, set: NODE_SET, where: { [MESH]: meshName } });
    this.certificateExpiry = withActions(
      new cloudwatch.Alarm(this, 'CertificateExpiry', {
        alarmDescription: `Weft mesh ${meshName}: a node's mesh certificate has less than ${daysLeft} days left (certificate sync is failing). The dashboard's certificate graph names the ${NODE}.`,
        metric: new cloudwatch.MathExpression({ expression: minimumExpiry, period: certificateEvaluation.period, label: 'seconds left' }),
        threshold: daysLeft * SECONDS_PER_DAY,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: certificateEvaluation.evaluationPeriods,
        // No data: no sidecar with a mesh identity is running, nothing is expiring.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    const serverErrors: Record<string, cloudwatch.Alarm> = {};
    const latency: Record<string, cloudwatch.Alarm> = {};
    for (const service of props.virtualServices ?? []) {
      const name = service.virtualServiceName;
      const values = { [MESH]: meshName, [VIRTUAL_SERVICE]: name };
      const sum = (metricName: string) => emfMetric(metricName, SERVICE_SET, values, cloudwatch.Stats.SUM, errorEvaluation.period);
      serverErrors[name] = withActions(
        new cloudwatch.Alarm(this, `ServerErrorRate-${name}`, {
          alarmDescription: `Weft mesh ${meshName}: 5xx responses of virtual service ${name} at or above ${percent}% of its requests.`,
          metric: new cloudwatch.MathExpression({
            expression: '100*FILL(e,0)/r',
            usingMetrics: { e: sum(EMF_METRICS.responses5xx.name), r: sum(EMF_METRICS.requests.name) },
            period: errorEvaluation.period,
            label: '5xx %',
          }),
          threshold: percent,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: errorEvaluation.evaluationPeriods,
          // No requests in a period: no errors either.
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
      latency[name] = withActions(
        new cloudwatch.Alarm(this, `LatencyP99-${name}`, {
          alarmDescription: `Weft mesh ${meshName}: p99 request duration of virtual service ${name} at or above ${latencyMs} ms.`,
          metric: emfMetric(EMF_METRICS.requestDuration.name, SERVICE_SET, values, 'p99', latencyEvaluation.period),
          threshold: latencyMs,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: latencyEvaluation.evaluationPeriods,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    this.serverErrors = serverErrors;
    this.latency = latency;
  }
}

function positive(what: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new Error(`${what} must be a positive number, got: ${value}`);
  return value;
}

/** CloudWatch: period a multiple of 60 s, and period times evaluation periods at most one day. */
function evaluation(prefix: string, period: cdk.Duration, evaluationPeriods: number): { period: cdk.Duration; evaluationPeriods: number } {
  const seconds = period.toSeconds();
  if (seconds < 60 || seconds % 60 !== 0) throw new Error(`${prefix}Period must be a whole number of minutes (the sidecar writes EMF every 60 s), got: ${seconds} s`);
  if (!Number.isInteger(evaluationPeriods) || evaluationPeriods < 1) throw new Error(`${prefix}EvaluationPeriods must be a positive integer, got: ${evaluationPeriods}`);
  if (seconds * evaluationPeriods > 86_400) {
    throw new Error(`${prefix}Period times ${prefix}EvaluationPeriods must be at most one day (CloudWatch's limit), got: ${seconds} s x ${evaluationPeriods}`);
  }
  return { period, evaluationPeriods };
}
