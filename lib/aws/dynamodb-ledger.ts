import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { LedgerConflictError } from '../errors.ts';
import type { LedgerEntry, LedgerPosition, OffsetLedger } from '../ports.ts';

/**
 * The offset ledger in DynamoDB (table from `ledgerTableDefinition`). This adapter only maps
 * items and turns `ConditionalCheckFailedException` into `LedgerConflictError`; the protocol
 * lives in the core. Throttling and 5xx are retried by the SDK's own retry strategy.
 */
export class DynamoDbOffsetLedger implements OffsetLedger {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;

  constructor(options: { readonly client: DynamoDBClient; readonly tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  async read(topic: string, partition: number): Promise<LedgerEntry | undefined> {
    const { Item } = await this.#client.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { topic: { S: topic }, partition: { N: String(partition) } },
        ConsistentRead: true,
      }),
    );
    return Item ? toEntry(Item) : undefined;
  }

  async advance(expected: LedgerPosition | undefined, next: LedgerEntry): Promise<void> {
    // The condition is what the writer read: the same generation and a committed offset below
    // the new one, so concurrent writers resolve to the highest offset and never go back.
    const condition = expected
      ? '#generation = :generation AND #committed < :committed'
      : 'attribute_not_exists(#topic)';
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: { topic: { S: next.topic }, partition: { N: String(next.partition) } },
          UpdateExpression:
            'SET #generation = :generation, #committed = :committed, #lastObjectKey = :lastObjectKey, ' +
            '#lastRecordCount = :lastRecordCount, #updatedAt = :updatedAt',
          ConditionExpression: condition,
          ExpressionAttributeNames: { ...LEDGER_ATTRIBUTE_NAMES, ...(expected ? {} : { '#topic': 'topic' }) },
          ExpressionAttributeValues: {
            ':generation': { N: String(next.generation) },
            ':committed': { N: String(next.committedOffset) },
            ':lastObjectKey': next.lastObjectKey === null ? { NULL: true } : { S: next.lastObjectKey },
            ':lastRecordCount': { N: String(next.lastRecordCount) },
            ':updatedAt': { S: next.updatedAt },
          },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') {
        throw new LedgerConflictError(
          `Ledger of ${next.topic}-${next.partition} moved: cannot advance to ${next.committedOffset} from ` +
            (expected ? `generation ${expected.generation} offset ${expected.committedOffset}` : 'no entry'),
          { cause: error },
        );
      }
      throw error;
    }
  }
}

/** The ledger item's attributes as update expressions name them (`toEntry` reads the same). */
export const LEDGER_ATTRIBUTE_NAMES = {
  '#generation': 'generation',
  '#committed': 'committedOffset',
  '#lastObjectKey': 'lastObjectKey',
  '#lastRecordCount': 'lastRecordCount',
  '#updatedAt': 'updatedAt',
} as const;

/** Maps a ledger item to an entry. */
export function toEntry(item: Record<string, AttributeValue>): LedgerEntry {
  return {
    topic: item['topic']?.S ?? '',
    partition: Number(item['partition']?.N ?? -1),
    generation: Number(item['generation']?.N ?? 0),
    committedOffset: Number(item['committedOffset']?.N ?? -1),
    lastObjectKey: item['lastObjectKey']?.S ?? null,
    lastRecordCount: Number(item['lastRecordCount']?.N ?? 0),
    updatedAt: item['updatedAt']?.S ?? '',
  };
}
