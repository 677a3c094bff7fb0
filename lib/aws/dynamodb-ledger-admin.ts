import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { LEDGER_ATTRIBUTE_NAMES, TOPIC_ID_ATTRIBUTE, toEntry } from './dynamodb-ledger.ts';
import { LedgerConflictError } from '../core/errors.ts';
import type { LedgerPosition } from '../core/ports.ts';
import { type AuditedLedgerEntry, type LedgerAdminPort, type LedgerPrune, type LedgerReset, resetConflictError } from '../ledger/admin.ts';

/** The ledger port over the DynamoDB table (`LEDGER_TABLE`): the Lambda deployment's, or shared standalone workers'. */
export class LedgerAdmin implements LedgerAdminPort {
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
      const page = await this.#client.send(new ScanCommand({ TableName: this.#tableName, ConsistentRead: true, ExclusiveStartKey: start }));
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

  /** See `LedgerAdminPort.reset`: one conditional update, the condition on what was read. */
  async reset(topic: string, partition: number, expected: LedgerPosition | undefined, reset: LedgerReset): Promise<void> {
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: { topic: { S: topic }, partition: { N: String(partition) } },
          UpdateExpression:
            'SET #generation = :toGeneration, #committed = :toOffset, #lastObjectKey = :null, #lastRecordCount = :zero, ' +
            '#updatedAt = :at, #resets = list_append(if_not_exists(#resets, :empty), :reset) ' +
            // The new generation belongs to whatever topic has the name now (see LedgerEntry.topicId).
            'REMOVE #topicId',
          ConditionExpression: expected ? '#generation = :fromGeneration AND #committed = :fromOffset' : 'attribute_not_exists(#topic)',
          ExpressionAttributeNames: {
            ...LEDGER_ATTRIBUTE_NAMES,
            '#resets': 'resets',
            '#topicId': TOPIC_ID_ATTRIBUTE,
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
        throw resetConflictError({ topic, partition }, expected, 'is the event source mapping still delivering?', { cause: error });
      }
      throw error;
    }
  }

  /** See `LedgerAdminPort.recordPrune`: one update appending to the item's `prunes` list. */
  async recordPrune(topic: string, partition: number, prune: LedgerPrune): Promise<void> {
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: { topic: { S: topic }, partition: { N: String(partition) } },
          UpdateExpression: 'SET #prunes = list_append(if_not_exists(#prunes, :empty), :prune)',
          ConditionExpression: 'attribute_exists(#topic)',
          ExpressionAttributeNames: { '#prunes': 'prunes', '#topic': 'topic' },
          ExpressionAttributeValues: { ':empty': { L: [] }, ':prune': { L: [{ M: toPruneItem(prune) }] } },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') {
        throw new LedgerConflictError(`Ledger of ${topic}-${partition} has no entry: there is nothing of it to prune`, { cause: error });
      }
      throw error;
    }
  }
}

function toPruneItem(prune: LedgerPrune): Record<string, AttributeValue> {
  return {
    id: { S: prune.id },
    at: { S: prune.at },
    by: { S: prune.by },
    reason: { S: prune.reason },
    generations: { L: prune.generations.map((generation) => ({ N: String(generation) })) },
    fromOffset: { N: String(prune.fromOffset) },
    toOffset: { N: String(prune.toOffset) },
    objects: { N: String(prune.objects) },
    bytes: { N: String(prune.bytes) },
  };
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
  const prunes = (item['prunes']?.L ?? []).map((value): LedgerPrune => {
    const m = value.M ?? {};
    return {
      id: m['id']?.S ?? '',
      at: m['at']?.S ?? '',
      by: m['by']?.S ?? '',
      reason: m['reason']?.S ?? '',
      generations: (m['generations']?.L ?? []).map((g) => Number(g.N ?? 0)),
      fromOffset: Number(m['fromOffset']?.N ?? -1),
      toOffset: Number(m['toOffset']?.N ?? -1),
      objects: Number(m['objects']?.N ?? 0),
      bytes: Number(m['bytes']?.N ?? 0),
    };
  });
  return { ...toEntry(item), resets, ...(prunes.length > 0 ? { prunes } : {}) };
}
