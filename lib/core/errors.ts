/** Base class of every error the sink raises on purpose. */
export class SinkError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SinkError';
  }
}

/** The configuration (environment) is missing a setting or has a malformed one. */
export class ConfigurationError extends SinkError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigurationError';
  }
}

/**
 * The Lambda event is not a well-formed Kafka event. The message names the field by its
 * path, e.g. `records["orders-0"][3].offset: expected a non-negative integer`.
 * Nothing of a malformed event is written or committed.
 */
export class MalformedEventError extends SinkError {
  /** Every problem found, each `path: what is wrong`. */
  readonly issues: readonly string[];
  constructor(issues: readonly string[], options?: ErrorOptions) {
    const shown = issues.slice(0, 5).join('; ');
    const more = issues.length > 5 ? ` (and ${issues.length - 5} more)` : '';
    super(`Malformed Kafka event: ${shown}${more}`, options);
    this.name = 'MalformedEventError';
    this.issues = issues;
  }
}

/**
 * A well-formed record that cannot be written in the configured format, or placed or named by
 * the layout. The message names the record and the reason, never its data (issue 14: record
 * data never reaches logs or error messages).
 */
export class PoisonRecordError extends SinkError {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** The part of the record at fault when known: `timestamp`, `value`, `value.<field>`. */
  readonly field: string | undefined;
  constructor(
    where: { readonly topic: string; readonly partition: number; readonly offset: number },
    reason: string,
    options?: ErrorOptions & { readonly field?: string | undefined },
  ) {
    super(`Record ${where.topic}-${where.partition}@${where.offset} cannot be written: ${reason}`, options);
    this.name = 'PoisonRecordError';
    this.topic = where.topic;
    this.partition = where.partition;
    this.offset = where.offset;
    this.field = options?.field;
  }
}

/** A conditional ledger write lost to another writer (the ledger moved since it was read). */
export class LedgerConflictError extends SinkError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LedgerConflictError';
  }
}

/**
 * The ledger was reset (a new generation began) while this invocation was delivering.
 * The invocation stops for that partition; the redelivered batch follows the new generation.
 */
export class LedgerResetError extends SinkError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LedgerResetError';
  }
}

/** A conditional object write lost: an object already exists under the key (S3 412). */
export class ObjectExistsError extends SinkError {
  readonly key: string;
  constructor(key: string, options?: ErrorOptions) {
    super(`Object already exists: ${key}`, options);
    this.name = 'ObjectExistsError';
    this.key = key;
  }
}

/** An object under the sink's prefix lacks the metadata the protocol relies on, or contradicts it. */
export class CorruptObjectError extends SinkError {
  readonly key: string;
  /** What is wrong with it, without the key. */
  readonly reason: string;
  constructor(key: string, reason: string, options?: ErrorOptions) {
    super(`Object ${key} is not a valid sink object: ${reason}`, options);
    this.name = 'CorruptObjectError';
    this.key = key;
    this.reason = reason;
  }
}

/**
 * The topic a partition's ledger entry was committed for is gone: the topic was deleted and
 * created again under the same name (Kafka gave it a new topic id). Its offsets start again at 0,
 * so its records would be taken for duplicates of the old topic's offsets up to the committed one
 * and dropped. The partition is refused until an operator resets its ledger entry (which clears
 * the recorded topic id); `code` is fixed, for alarms.
 */
export class TopicRecreatedError extends SinkError {
  /** Fixed, for log metric filters and alarms. */
  readonly code = 'TOPIC_RECREATED';
  readonly topic: string;
  readonly partition: number;
  /** The topic id the ledger entry was committed for. */
  readonly ledgerTopicId: string;
  /** The topic id the cluster has now. */
  readonly topicId: string;
  readonly generation: number;
  readonly committedOffset: number;
  constructor(
    where: {
      readonly topic: string;
      readonly partition: number;
      readonly ledgerTopicId: string;
      readonly topicId: string;
      readonly generation: number;
      readonly committedOffset: number;
    },
    options?: ErrorOptions,
  ) {
    const { topic, partition, ledgerTopicId, topicId, generation, committedOffset } = where;
    super(
      `Topic ${topic} was deleted and created again: the ledger entry of ${topic}-${partition} (generation ${generation}, ` +
        `committed offset ${committedOffset}) belongs to topic id ${ledgerTopicId}, the cluster's ${topic} has topic id ${topicId}. ` +
        `Its records would be taken for duplicates of the old topic's offsets and dropped, so the partition is refused. ` +
        `To deliver the new topic from its start, stop the worker and reset the partition: ` +
        `msk-s3-sink reset --config <worker properties> --topic ${topic} --partition ${partition} --to-offset 0 --reason "topic re-created"; ` +
        'then start the worker again',
      options,
    );
    this.name = 'TopicRecreatedError';
    this.topic = topic;
    this.partition = partition;
    this.ledgerTopicId = ledgerTopicId;
    this.topicId = topicId;
    this.generation = generation;
    this.committedOffset = committedOffset;
  }
}

/** An operator's command is wrong or cannot be carried out as asked. */
export class OperationError extends SinkError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OperationError';
  }
}
