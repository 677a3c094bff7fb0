import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEmulatorSink } from '../support/emulators.ts';
import type { LogRecord } from '../../testkit/kafka/records.ts';
import { timedLog } from '../../testkit/kafka/generate.ts';
import { toKafkaEvent } from '../../testkit/kafka/events.ts';
import { useOpsWorld } from '../support/ops-world.ts';

/**
 * Issue 15, item 5: `locate` on an offset the log skipped says so, points to the next record's
 * object and exits 0; an offset in a skipped range the ledger recorded is named as such. The
 * sink and the CLI run against the emulators.
 */
describe('locate on an offset the log skipped', () => {
  const world = useOpsWorld('locate', { now: Date.UTC(2026, 11, 3, 9) });
  const { cli } = world;
  const topic = 'locate.gaps';
  const all = timedLog(topic, 0, 40, Date.UTC(2026, 11, 1), 1000);
  // Batch A: 0..9 and 15..24 (compaction removed 10..14 inside it); batch B: 30..39, above the
  // committed offset 24 + 1 (the mapping discarded 25..29).
  const batchA: LogRecord[] = all.filter((r) => r.offset < 25 && (r.offset < 10 || r.offset >= 15));
  const batchB: LogRecord[] = all.filter((r) => r.offset >= 30);
  const keyA = `topics/${topic}/partition=0/${topic}+0+${'0'.padStart(20, '0')}.jsonl.gz`;
  const keyB = `topics/${topic}/partition=0/${topic}+0+${'30'.padStart(20, '0')}.jsonl.gz`;

  beforeAll(async () => {
    const sink = createEmulatorSink(world.s3, world.ledger);
    await sink.handle(toKafkaEvent([{ topic, partition: 0, records: batchA }]));
    await sink.handle(toKafkaEvent([{ topic, partition: 0, records: batchB }]));
    // The range the delivery path records for batch B (the shared model's `skippedRanges`).
    await world.ledger.client.send(
      new UpdateItemCommand({
        TableName: world.ledger.tableName,
        Key: { topic: { S: topic }, partition: { N: '0' } },
        UpdateExpression: 'SET skippedRanges = :ranges',
        ExpressionAttributeValues: {
          ':ranges': {
            // (The adapter's compact form: kind, generation, from, to, epoch ms.)
            L: [
              {
                M: {
                  k: { S: 'gap' },
                  g: { N: '0' },
                  f: { N: '25' },
                  t: { N: '29' },
                  at: { N: String(Date.parse('2026-12-02T10:00:00.000Z')) },
                },
              },
            ],
          },
        },
      }),
    );
  });

  it('an offset missing inside an object: skipped, the next record is in the same object', async () => {
    const human = await cli('locate', '--topic', topic, '--partition', '0', '--offset', '12');
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toBe(
      `Offset 12 of ${topic}-0 is not in the log: Kafka skipped it (compaction or transaction markers), so there is nothing to deliver.\n` +
        `The next record, offset 15, is in:\n${keyA}\n  generation 0, offsets 0-24, 20 records; the record: offset 15, timestamp ${new Date(all[15]!.timestamp).toISOString()}\n`,
    );
    const json = await cli('locate', '--topic', topic, '--partition', '0', '--offset', '12', '--json');
    expect(json.json()).toMatchObject({ key: keyA, offset: 15, skipped: { offset: 12 } });
    expect(json.json().skipped.range).toBeUndefined();
  });

  it('an offset between two objects, in a recorded skipped range: says so, points to the next object', async () => {
    const human = await cli('locate', '--topic', topic, '--partition', '0', '--offset', '27');
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toBe(
      `Offset 27 of ${topic}-0 was skipped: it lies in the skipped range 25-29 (gap, generation 0) the sink recorded at 2026-12-02T10:00:00.000Z: a batch started above ` +
        `the committed offset + 1 (the mapping discarded records after its retries or maximum record age, or retention deleted them).\n` +
        `The next record, offset 30, is in:\n${keyB}\n  generation 0, offsets 30-39, 10 records; the record: offset 30, timestamp ${new Date(all[30]!.timestamp).toISOString()}\n`,
    );
    const json = await cli('locate', '--topic', topic, '--partition', '0', '--offset', '27', '--json');
    expect(json.json()).toMatchObject({
      key: keyB,
      offset: 30,
      skipped: { offset: 27, range: { kind: 'gap', fromOffset: 25, toOffset: 29 } },
    });
  });

  it('a delivered offset is found as before; one past the committed offset is not delivered (exit 1)', async () => {
    expect((await cli('locate', '--topic', topic, '--partition', '0', '--offset', '31', '--json')).json()).toMatchObject({
      key: keyB,
      offset: 31,
    });
    const beyond = await cli('locate', '--topic', topic, '--partition', '0', '--offset', '40');
    expect(beyond.code).toBe(1);
    expect(beyond.stdout).toContain('Not delivered');
  });
});
