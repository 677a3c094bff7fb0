/**
 * The compactor's errors (docs/compaction.md). Each says what is wrong and where: the
 * topic-partition, and the key or offsets at fault. None quotes record data.
 */
import { SinkError } from '../core/errors.ts';

/** Base class of every error the compactor raises on purpose. */
export class CompactionError extends SinkError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CompactionError';
  }
}

/** A compaction setting is missing or malformed. */
export class CompactionSettingsError extends CompactionError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CompactionSettingsError';
  }
}

/**
 * The conditional write of a compaction cursor lost: the stored cursor is no longer the one the
 * compactor read (another compactor moved it, or an operator's reset). The compactor reads again.
 */
export class CursorConflictError extends CompactionError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CursorConflictError';
  }
}

/** A staged object the compactor listed is gone when it reads it (another compactor compacted and deleted it). */
export class StagedObjectMissingError extends CompactionError {
  readonly key: string;
  constructor(key: string, options?: ErrorOptions) {
    super(`Staged object ${key} is gone: another compactor may have compacted and deleted it`, options);
    this.name = 'StagedObjectMissingError';
    this.key = key;
  }
}

/**
 * The staged chain of a topic-partition cannot be compacted as it is: no staged object continues
 * from the cursor although the ledger committed past it (a gap: staged objects deleted by hand, or
 * the cursor initialised wrongly), a staged object's bytes differ from its listed size, or its
 * format cannot be merged by concatenation. The partition's compaction stops; nothing is written.
 */
export class StagedChainError extends CompactionError {
  readonly topic: string;
  readonly partition: number;
  constructor(where: { readonly topic: string; readonly partition: number }, problem: string, options?: ErrorOptions) {
    super(`Staged chain of ${where.topic}-${where.partition}: ${problem}`, options);
    this.name = 'StagedChainError';
    this.topic = where.topic;
    this.partition = where.partition;
  }
}
