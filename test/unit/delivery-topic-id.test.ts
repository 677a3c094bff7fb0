/**
 * What a source that knows more than a Lambda event tells the core (the standalone worker): the
 * topic id the records were read from (a topic deleted and created again is refused, never taken
 * for duplicates), and the offset it read the log from (compaction's gaps before the first record
 * are not skips).
 */
import { describe, expect, it } from 'vitest';
import { deliverBatch } from '../../lib/delivery/deliver-batch.ts';
import { TopicRecreatedError } from '../../lib/core/errors.ts';
import type { KafkaRecord, PartitionBatch } from '../../lib/core/model.ts';
import { deliveryOptions } from '../../lib/sink/sink.ts';
import { testConfig } from '../support/config.ts';
import { ManualClock, MemoryLedger, MemoryObjectStore } from '../../testkit/memory-ports.ts';

const topic = 'orders';
const options = deliveryOptions(testConfig());

function records(offsets: readonly number[]): KafkaRecord[] {
  return offsets.map((offset) => ({
    topic,
    partition: 0,
    offset,
    timestamp: 1_764_000_000_000 + offset,
    timestampType: 'CREATE_TIME',
    key: null,
    value: Buffer.from(JSON.stringify({ n: offset })),
    headers: [],
  }));
}

function world() {
  const ledger = new MemoryLedger();
  const store = new MemoryObjectStore();
  const ports = { ledger, store, clock: new ManualClock() };
  const deliver = async (batch: Omit<PartitionBatch, 'topic' | 'partition'>) =>
    (await deliverBatch({ eventSource: 'SelfManagedKafka', partitions: [{ topic, partition: 0, ...batch }] }, options, ports))
      .partitions[0]!;
  return { ledger, store, deliver };
}

describe('the topic id a batch was read from', () => {
  it('is recorded with the commit, and a batch from another id is refused with nothing written', async () => {
    const { ledger, store, deliver } = world();
    expect(await deliver({ records: records([0, 1, 2, 3, 4]), topicId: 'id-A' })).toMatchObject({
      status: 'delivered',
      committedOffset: 4,
    });
    expect(ledger.entries.get(`${topic}/0`)).toMatchObject({ committedOffset: 4, topicId: 'id-A' });
    const objects = store.objects.size;

    // The topic was deleted and created again: its offsets start at 0 again, all "at or below" 4.
    const refused = await deliver({ records: records([0, 1, 2, 3, 4, 5, 6]), topicId: 'id-B' });
    expect(refused.status).toBe('failed');
    expect(refused.skippedDuplicates).toBe(0);
    expect(refused.firstUndeliveredOffset).toBe(0);
    expect(refused.error).toBeInstanceOf(TopicRecreatedError);
    expect(refused.error).toMatchObject({ code: 'TOPIC_RECREATED', ledgerTopicId: 'id-A', topicId: 'id-B', committedOffset: 4 });
    expect(refused.error?.message).toContain('msk-s3-sink reset');
    expect(refused.error?.message).toContain(`--topic ${topic} --partition 0 --to-offset 0`);
    expect(store.objects.size).toBe(objects);
    expect(ledger.entries.get(`${topic}/0`)).toMatchObject({ committedOffset: 4, topicId: 'id-A' });

    // Above the committed offset it is still another topic: refused too.
    expect((await deliver({ records: records([9, 10]), topicId: 'id-B' })).error).toBeInstanceOf(TopicRecreatedError);

    // After a reset (which clears the id) the new topic is delivered from 0, its id recorded.
    ledger.reset(topic, 0, -1);
    expect(await deliver({ records: records([0, 1, 2]), topicId: 'id-B' })).toMatchObject({
      status: 'delivered',
      committedOffset: 2,
      recordsWritten: 3,
    });
    expect(ledger.entries.get(`${topic}/0`)).toMatchObject({ generation: 1, committedOffset: 2, topicId: 'id-B' });
  });

  it('is not checked where either side does not know it (a Lambda event, an entry from before)', async () => {
    const { ledger, deliver } = world();
    await deliver({ records: records([0, 1]) });
    expect(ledger.entries.get(`${topic}/0`)).not.toHaveProperty('topicId');
    expect(await deliver({ records: records([2, 3]), topicId: 'id-A' })).toMatchObject({ status: 'delivered', committedOffset: 3 });
    expect(ledger.entries.get(`${topic}/0`)?.topicId).toBe('id-A');
    // A batch without an id (the Lambda path) neither checks nor clears it.
    expect(await deliver({ records: records([4]) })).toMatchObject({ status: 'delivered', committedOffset: 4 });
    expect(ledger.entries.get(`${topic}/0`)?.topicId).toBe('id-A');
  });
});

describe('where the source began reading (coversFrom)', () => {
  it('does not count compaction gaps before the first record as skipped when the read began at committed + 1', async () => {
    const { ledger, deliver } = world();
    // Compaction removed 0-2 and 6-8: the worker read from 0 (committed -1, + 1).
    expect(await deliver({ records: records([3, 4, 5]), coversFrom: 0 })).toMatchObject({ status: 'delivered', committedOffset: 5 });
    expect(await deliver({ records: records([9, 10]), coversFrom: 6 })).toMatchObject({ status: 'delivered', committedOffset: 10 });
    const entry = ledger.entries.get(`${topic}/0`)!;
    expect(entry.skippedRanges ?? []).toEqual([]);
  });

  it('records only the offsets below where the read began (retention deleted them) as skipped', async () => {
    const { ledger, deliver } = world();
    await deliver({ records: records([0, 1]), coversFrom: 0 });
    // Records 2-19 were deleted before the worker read them; it read from the log start, 20; 20-21 compacted.
    const report = await deliver({ records: records([22, 23]), coversFrom: 20 });
    expect(report.skippedRange).toMatchObject({ kind: 'gap', fromOffset: 2, toOffset: 19 });
    expect(ledger.entries.get(`${topic}/0`)?.skippedRanges).toMatchObject([{ kind: 'gap', fromOffset: 2, toOffset: 19 }]);
  });

  it('without it, a batch starting above committed + 1 is a skip up to its first record (the Lambda path)', async () => {
    const { deliver } = world();
    await deliver({ records: records([0, 1]) });
    expect((await deliver({ records: records([5, 6]) })).skippedRange).toMatchObject({ kind: 'gap', fromOffset: 2, toOffset: 4 });
  });
});
