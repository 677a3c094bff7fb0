import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { LEDGER_ATTRIBUTE_NAMES, toEntry } from '../aws/dynamodb-ledger.ts';
import { LedgerConflictError } from '../errors.ts';
import type { LedgerEntry, LedgerPosition } from '../ports.ts';

/** One reset of a partition's ledger: who, when, from, to and why. */
export interface LedgerReset {
  /** Identifies the operation, so that a resumed replay does not reset twice. */
  readonly id: string;
  readonly at: string;
  readonly by: string;
  readonly reason: string;
  readonly fromGeneration: number;
  /** The committed offset the old generation ended at (-1: none). */
  readonly fromOffset: number;
  readonly toGeneration: number;
  /** The committed offset the new generation starts from: delivery resumes after it. */
  readonly toOffset: number;
}

/** A ledger entry with its reset history (oldest first). */
export interface AuditedLedgerEntry extends LedgerEntry {
  readonly resets: readonly LedgerReset[];
}

/**
 * The ledger as operators see it: every partition's entry and history, and resets. The sink's
 * own adapter (lib/aws/dynamodb-ledger.ts) only reads and advances; a reset is an operator's act.
 */
export class LedgerAdmin {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;

  constructor(options: { readonly client: DynamoDBClient; readonly tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  /** Every entry (a consistent scan), sorted by topic and partition. */
  async list(filter: { readonly topic?: string } = {}): Promise<AuditedLedgerEntry[]> {
    const entries: AuditedLedgerEntry[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.#client.send(
        new ScanCommand({ TableName: this.#tableName, ConsistentRead: true, ExclusiveStartKey: start }),
      );
      for (const item of page.Items ?? []) entries.push(toAuditedEntry(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return entries
      .filter((entry) => filter.topic === undefined || entry.topic === filter.topic)
      .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  }

  /** One partition's entry, or undefined when nothing was ever committed there. */
  async get(topic: string, partition: number): Promise<AuditedLedgerEntry | undefined> {
    const { Item } = await this.#client.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { topic: { S: topic }, partition: { N: String(partition) } },
        ConsistentRead: true,
      }),
    );
    return Item ? toAuditedEntry(Item) : undefined;
  }

  /**
   * Starts a new generation at `reset.toOffset`, only if the entry is still at `expected` (what
   * the operator was shown): a writer that commits in between makes this fail with
   * `LedgerConflictError` rather than be overwritten. The reset is appended to the history.
   */
  async reset(topic: string, partition: number, expected: LedgerPosition | undefined, reset: LedgerReset): Promise<void> {
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: { topic: { S: topic }, partition: { N: String(partition) } },
          UpdateExpression:
            'SET #generation = :toGeneration, #committed = :toOffset, #lastObjectKey = :null, #lastRecordCount = :zero, ' +
            '#updatedAt = :at, #resets = list_append(if_not_exists(#resets, :empty), :reset)',
          ConditionExpression: expected
            ? '#generation = :fromGeneration AND #committed = :fromOffset'
            : 'attribute_not_exists(#topic)',
          ExpressionAttributeNames: {
            ...LEDGER_ATTRIBUTE_NAMES,
            '#resets': 'resets',
            ...(expected ? {} : { '#topic': 'topic' }),
          },
          ExpressionAttributeValues: {
            ':toGeneration': { N: String(reset.toGeneration) },
            ':toOffset': { N: String(reset.toOffset) },
            ':null': { NULL: true },
            ':zero': { N: '0' },
            ':at': { S: reset.at },
            ':empty': { L: [] },
            ':reset': { L: [{ M: toResetItem(reset) }] },
            ...(expected
              ? { ':fromGeneration': { N: String(expected.generation) }, ':fromOffset': { N: String(expected.committedOffset) } }
              : {}),
          },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') {
        throw new LedgerConflictError(
          `Ledger of ${topic}-${partition} moved since it was read (expected ` +
            (expected ? `generation ${expected.generation} at offset ${expected.committedOffset}` : 'no entry') +
            '): is the event source mapping still delivering? Read it again and retry.',
          { cause: error },
        );
      }
      throw error;
    }
  }
}

function toResetItem(reset: LedgerReset): Record<string, AttributeValue> {
  return {
    id: { S: reset.id },
    at: { S: reset.at },
    by: { S: reset.by },
    reason: { S: reset.reason },
    fromGeneration: { N: String(reset.fromGeneration) },
    fromOffset: { N: String(reset.fromOffset) },
    toGeneration: { N: String(reset.toGeneration) },
    toOffset: { N: String(reset.toOffset) },
  };
}

function toAuditedEntry(item: Record<string, AttributeValue>): AuditedLedgerEntry {
  const resets = (item['resets']?.L ?? []).map((value): LedgerReset => {
    const m = value.M ?? {};
    return {
      id: m['id']?.S ?? '',
      at: m['at']?.S ?? '',
      by: m['by']?.S ?? '',
      reason: m['reason']?.S ?? '',
      fromGeneration: Number(m['fromGeneration']?.N ?? 0),
      fromOffset: Number(m['fromOffset']?.N ?? -1),
      toGeneration: Number(m['toGeneration']?.N ?? 0),
      toOffset: Number(m['toOffset']?.N ?? -1),
    };
  });
  return { ...toEntry(item), resets };
}
