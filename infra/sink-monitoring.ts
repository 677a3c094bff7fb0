/**
 * What operators watch in the console: one CloudWatch dashboard and a few alarms with sensible
 * defaults, optionally notifying an SNS topic. Metric names and the namespace are the function's
 * (lib/sink.ts `SinkMetric`; Powertools namespace `MskS3Sink`, service `msk-s3-sink`).
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME as METRICS_SERVICE, SinkMetric } from '../lib/sink.ts';

export interface SinkAlarmOptions {
  /**
   * Alarm when the mapping's OffsetLag (records behind, maximum over its partitions) stays above
   * this for `offsetLagEvaluationPeriods` minutes.
   * @default 10000
   */
  readonly offsetLagThreshold?: number;
  /** @default 15 */
  readonly offsetLagEvaluationPeriods?: number;
  /** Alarm when the function's Errors reach this in 5 minutes. @default 1 */
  readonly functionErrorsThreshold?: number;
  /** Alarm when EndToEndLag (now − oldest record's timestamp, ms) exceeds this for 15 minutes. @default 900000 (15 min) */
  readonly endToEndLagThresholdMs?: number;
  /**
   * An existing topic to notify; or `true` to create one (KMS-encrypted, TLS-only).
   * @default - no notifications (the alarms still show in the console)
   */
  readonly topic?: sns.ITopic | boolean;
  /** E-mail addresses subscribed to a topic the construct creates. @default - none */
  readonly emails?: readonly string[];
}

export interface SinkMonitoringProps {
  readonly function: lambda.IFunction;
  readonly onFailureQueue?: sqs.IQueue;
  readonly dashboardName: string;
  readonly topics: readonly string[];
  readonly alarms?: SinkAlarmOptions;
}

export class SinkMonitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly alarmTopic: sns.ITopic | undefined;

  constructor(scope: Construct, id: string, props: SinkMonitoringProps) {
    super(scope, id);
    const options = props.alarms ?? {};
    const fn = props.function;
    const sink = (metricName: string, statistic = 'Sum', unit?: cloudwatch.Unit) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: METRICS_SERVICE },
        statistic,
        unit,
        period: Duration.minutes(1),
      });
    // OffsetLag: AWS/Lambda, per function, for Kafka mappings.
    const offsetLag = fn.metric('OffsetLag', { statistic: 'Maximum', period: Duration.minutes(1) });

    this.alarmTopic = this.createTopic(options);
    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, periods: number, description: string) => {
      const created = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      if (this.alarmTopic) {
        created.addAlarmAction(new actions.SnsAction(this.alarmTopic));
        created.addOkAction(new actions.SnsAction(this.alarmTopic));
      }
      this.alarms.push(created);
      return created;
    };

    const lagPeriods = options.offsetLagEvaluationPeriods ?? 15;
    alarm(
      'OffsetLagAlarm',
      offsetLag,
      options.offsetLagThreshold ?? 10_000,
      lagPeriods,
      `msk-s3-sink is falling behind: OffsetLag stayed at or above the threshold for ${lagPeriods} minutes.`,
    );
    alarm(
      'FunctionErrorsAlarm',
      fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      options.functionErrorsThreshold ?? 1,
      1,
      'msk-s3-sink invocations failed: the mapping redelivers the batch; see the function logs (Partition not delivered).',
    );
    alarm(
      'DeadLettersAlarm',
      sink(SinkMetric.deadLetters).with({ period: Duration.minutes(5) }),
      1,
      1,
      'Poison records went to the dead-letter prefix (errors.tolerance=all).',
    );
    alarm(
      'EndToEndLagAlarm',
      sink(SinkMetric.endToEndLag, 'Maximum', cloudwatch.Unit.MILLISECONDS),
      options.endToEndLagThresholdMs ?? 900_000,
      15,
      'Records reach S3 late: EndToEndLag (now minus the oldest record timestamp of a batch) stayed high for 15 minutes.',
    );
    if (props.onFailureQueue) {
      alarm(
        'OnFailureQueueAlarm',
        props.onFailureQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        1,
        1,
        'The event source mapping gave up on a batch: its metadata is in the on-failure queue.',
      );
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    const width = 8;
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# msk-s3-sink\nTopics: ${props.topics.map((t) => `\`${t}\``).join(', ')}. Metrics: namespace \`${METRICS_NAMESPACE}\`, service \`${METRICS_SERVICE}\`. Runbook: README, docs/protocol.md.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Offset lag (records behind, max)', left: [offsetLag], width }),
      new cloudwatch.GraphWidget({
        title: 'End-to-end lag (ms, max)',
        left: [sink(SinkMetric.endToEndLag, 'Maximum', cloudwatch.Unit.MILLISECONDS)],
        width,
      }),
      new cloudwatch.GraphWidget({
        title: 'Delivered',
        left: [sink(SinkMetric.recordsDelivered)],
        right: [sink(SinkMetric.bytesDelivered)],
        width,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Objects',
        left: [sink(SinkMetric.objectsWritten), sink(SinkMetric.objectsAdopted), sink(SinkMetric.duplicatesSkipped)],
        width,
      }),
      new cloudwatch.GraphWidget({
        title: 'Failures',
        left: [sink(SinkMetric.deadLetters), sink(SinkMetric.partitionsFailed), fn.metricErrors({ period: Duration.minutes(1) })],
        width,
      }),
      new cloudwatch.GraphWidget({
        title: 'Function',
        left: [fn.metricInvocations({ period: Duration.minutes(1) }), fn.metricThrottles({ period: Duration.minutes(1) })],
        right: [
          fn.metricDuration({ period: Duration.minutes(1), statistic: 'p99' }),
          fn.metricDuration({ period: Duration.minutes(1), statistic: 'Maximum' }),
        ],
        width,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 }),
    );
  }

  private createTopic(options: SinkAlarmOptions): sns.ITopic | undefined {
    if (options.emails?.length && options.topic !== true) {
      throw new Error('MskS3Sink: alarms.emails: e-mail subscriptions need a topic the construct creates (alarms.topic: true)');
    }
    if (options.topic === undefined || options.topic === false) return undefined;
    if (options.topic !== true) return options.topic;
    // CloudWatch can publish to an encrypted topic only with a customer managed key that lets it.
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: 'msk-s3-sink: encrypts the alarm notification topic',
      enableKeyRotation: true,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        resources: ['*'],
      }),
    );
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'msk-s3-sink alarms',
      masterKey: key,
      enforceSSL: true,
    });
    for (const email of options.emails ?? []) topic.addSubscription(new subscriptions.EmailSubscription(email));
    return topic;
  }
}
