/**
 * What operators watch in the console: one CloudWatch dashboard and a few alarms with sensible
 * defaults, optionally notifying an SNS topic. Metric names and the namespace are the function's
 * (lib/sink/sink.ts `SinkMetric`; Powertools namespace `MskS3Sink`, service `msk-s3-sink`).
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME as METRICS_SERVICE, SinkMetric } from '../lib/sink/sink.ts';

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
   * Alarm when one skipped range (`SkippedOffsets`, offsets between the committed offset + 1 and a
   * batch's first record) is larger than this. A transactional topic skips 1 offset (a commit
   * marker) at the start of many batches, and compaction skips more: the default tolerates the
   * marker only; raise it for compacted topics or topics with aborted transactions.
   * @default 1
   */
  readonly skippedOffsetsThreshold?: number;
  /**
   * Alarm when a mapping has invoked the function for none of its records for this many hours
   * (a disabled mapping, or one that cannot reach the cluster, its secret or its key, emits
   * nothing at all). A topic that is legitimately quiet that long trips it too; 0 turns it off.
   * @default 24
   */
  readonly silentMappingHours?: number;
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
  /** The mappings, one per topic (in the order of `topics`); their `EventCount` metrics must be on. */
  readonly mappings: readonly lambda.IEventSourceMapping[];
  /** The mapping's on-failure destination, if any: its `OnFailureDestinationDeliveredEventCount` is alarmed. */
  readonly onFailure?: 's3' | 'sqs';
  readonly onFailureQueue?: sqs.IQueue;
  /** The queue that receives the on-failure bucket's "Object Created" events. */
  readonly onFailureBucketEvents?: sqs.IQueue;
  /** How long a batch can take to appear in the metrics (timeout + batching window), for the stalled-mapping alarm. */
  readonly invocationInterval: Duration;
  /** The scheduled manifest writer and the dead-letter queue of its invocations. */
  readonly manifestWriter?: { readonly function: lambda.IFunction; readonly deadLetterQueue: sqs.IQueue };
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
    const alarm = (
      id: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      periods: number,
      description: string,
      options: { comparison?: cloudwatch.ComparisonOperator; missing?: cloudwatch.TreatMissingData } = {},
    ) => {
      const created = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        comparisonOperator: options.comparison ?? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: options.missing ?? cloudwatch.TreatMissingData.NOT_BREACHING,
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

    // --- Every way the sink can stop, skip or fail (README, "Alarms") -------------------------
    const fiveMinutes = { period: Duration.minutes(5) };
    alarm(
      'PartitionsFailedAlarm',
      sink(SinkMetric.partitionsFailed).with(fiveMinutes),
      1,
      1,
      'A partition was not delivered (with partial batch responses the function still succeeds, so Errors stays at 0): the mapping redelivers it; see the function logs (Partition not delivered).',
    );
    alarm(
      'MalformedEventsAlarm',
      sink(SinkMetric.malformedEvents).with(fiveMinutes),
      1,
      1,
      'An invocation event was malformed and rejected whole before anything was written: the mapping redelivers it; see the function logs.',
    );
    const skippedThreshold = options.skippedOffsetsThreshold ?? 1;
    alarm(
      'SkippedOffsetsAlarm',
      sink(SinkMetric.skippedOffsets, 'Maximum').with(fiveMinutes),
      skippedThreshold,
      1,
      `A batch started more than ${skippedThreshold} offset(s) above the committed offset + 1: the mapping skipped records (retries, record age, bisect, retention). The range is on the ledger item (skippedRanges); run verify.`,
      { comparison: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD },
    );
    alarm(
      'InvalidObjectsAlarm',
      sink(SinkMetric.invalidObjects).with(fiveMinutes),
      1,
      1,
      'An object under the sink prefix has impossible metadata (planted or corrupt): its partition stops until an operator removes it; see the function logs.',
    );

    // A mapping that stopped invoking while its topic has lag: missing data filled as 0, so that
    // no invocation at all while OffsetLag is reported counts.
    const intervalPeriods = Math.max(3, Math.ceil(props.invocationInterval.toSeconds() / 300) + 1);
    const stalled = new cloudwatch.MathExpression({
      expression: 'IF(FILL(lag, 0) > 0 AND FILL(invocations, 0) == 0, 1, 0)',
      usingMetrics: {
        lag: fn.metric('OffsetLag', { statistic: 'Maximum', period: Duration.minutes(5) }),
        invocations: fn.metricInvocations({ period: Duration.minutes(5), statistic: 'Sum' }),
      },
      period: Duration.minutes(5),
      label: 'Lag without invocations',
    });
    alarm(
      'MappingStalledAlarm',
      stalled,
      1,
      intervalPeriods,
      `The topic has lag but the function was not invoked for ${intervalPeriods * 5} minutes: the mapping is disabled or cannot invoke (permissions, KMS, throttling to 0); check the mapping's state in the Lambda console.`,
    );
    // Each mapping's own Lambda metrics (EventCount group, dimension EventSourceMappingUUID).
    const mappingMetric = (mapping: lambda.IEventSourceMapping, metricName: string, period: Duration) =>
      new cloudwatch.Metric({
        namespace: 'AWS/Lambda',
        metricName,
        dimensionsMap: { EventSourceMappingUUID: mapping.eventSourceMappingId },
        statistic: 'Sum',
        period,
      });
    const silentHours = options.silentMappingHours ?? 24;
    props.mappings.forEach((mapping, index) => {
      const topic = props.topics[index];
      if (silentHours > 0) {
        alarm(
          `Mapping${index}SilentAlarm`,
          mappingMetric(mapping, 'InvokedEventCount', Duration.hours(1)),
          1,
          silentHours,
          `The mapping of topic ${topic} invoked the function for no record in ${silentHours} hour(s): it is disabled, or cannot reach the cluster, its secret or its key (or the topic was quiet). Check its state and StateTransitionReason.`,
          { comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, missing: cloudwatch.TreatMissingData.BREACHING },
        );
      }
      alarm(
        `Mapping${index}DroppedAlarm`,
        mappingMetric(mapping, 'DroppedEventCount', Duration.minutes(5)),
        1,
        1,
        `The mapping of topic ${topic} dropped records (retries or record age exhausted) without delivering them to an on-failure destination: they are lost from the sink; replay the range (msk-s3-sink replay).`,
      );
      if (props.onFailure) {
        alarm(
          `Mapping${index}OnFailureAlarm`,
          mappingMetric(mapping, 'OnFailureDestinationDeliveredEventCount', Duration.minutes(5)),
          1,
          1,
          `The mapping of topic ${topic} gave up on a batch and sent it to the on-failure ${props.onFailure === 's3' ? 'bucket' : 'queue'}: the consumer group moved past it; replay it from there or from Kafka.`,
        );
      }
    });
    if (props.onFailureBucketEvents) {
      alarm(
        'OnFailureBucketAlarm',
        props.onFailureBucketEvents.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        1,
        1,
        'A failed batch was written to the on-failure bucket (its "Object Created" event is in the queue): replay it, then delete the message to clear the alarm.',
      );
    }
    if (props.manifestWriter) {
      alarm(
        'ManifestWriterErrorsAlarm',
        props.manifestWriter.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        1,
        1,
        'The manifest writer failed: completeness markers are late; see its logs. The next scheduled run retries.',
      );
      alarm(
        'ManifestWriterDeadLettersAlarm',
        props.manifestWriter.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(5),
          statistic: 'Maximum',
        }),
        1,
        1,
        'A scheduled run of the manifest writer failed after its retries (or could not be invoked): see its logs, then delete the message to clear the alarm.',
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
        left: [
          sink(SinkMetric.deadLetters),
          sink(SinkMetric.partitionsFailed),
          sink(SinkMetric.malformedEvents),
          sink(SinkMetric.skippedOffsets),
          sink(SinkMetric.invalidObjects),
          fn.metricErrors({ period: Duration.minutes(1) }),
        ],
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
      new cloudwatch.GraphWidget({
        title: 'Mappings: records invoked, dropped, sent to the on-failure destination',
        left: props.mappings.flatMap((mapping, index) =>
          ['InvokedEventCount', 'DroppedEventCount', 'OnFailureDestinationDeliveredEventCount'].map((name) =>
            mappingMetric(mapping, name, Duration.minutes(5)).with({ label: `${props.topics[index]} ${name}` }),
          ),
        ),
        width: 16,
      }),
      new cloudwatch.GraphWidget({ title: 'Lag without invocations (1 = stalled)', left: [stalled], width: 8 }),
    );
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 }));
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
        // Only CloudWatch acting for this account's alarms (confused deputy).
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
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
