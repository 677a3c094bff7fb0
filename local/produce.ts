/**
 * `npm run kafka:produce -- --topic orders [--partitions 4] [--records 1000] [--bootstrap-servers HOST:PORT]`:
 * puts known JSON records on a Kafka topic, for trying the standalone worker against the broker
 * of `npm run kafka` (README, "Standalone mode"). The topic is created with `--partitions` when
 * it does not exist. Records go round-robin over the partitions; each value is
 * `{"id":"<topic>/<partition>/<offset>","n":…,"at":…}`, so that what lands in S3 can be checked
 * record by record. The bootstrap address is `--bootstrap-servers`, else `KAFKA_BOOTSTRAP_SERVERS`.
 * Prints the offsets it wrote, one line per partition, on stdout.
 */
import { Admin, Producer, stringSerializers } from '@platformatic/kafka';
import { parseArgs } from 'node:util';
import { createKafkaAdmin } from '../lib/kafka/kafka-admin.ts';
import { recordId } from '../testkit/kafka/records.ts';

const USAGE =
  'Usage: npm run kafka:produce -- --topic NAME [--partitions N (4; for a new topic)] [--records N (1000)] [--bootstrap-servers HOST:PORT (KAFKA_BOOTSTRAP_SERVERS)]';

/** Thrown for a command-line mistake: printed with the usage, exit code 2. */
class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1)
    throw new UsageError(`${name} must be a positive integer, not ${JSON.stringify(text)}`);
  return value;
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      topic: { type: 'string' },
      partitions: { type: 'string' },
      records: { type: 'string' },
      'bootstrap-servers': { type: 'string' },
    },
    strict: true,
  });
  const topic = values.topic;
  if (!topic) throw new UsageError('--topic is required');
  const servers = (values['bootstrap-servers'] ?? env['KAFKA_BOOTSTRAP_SERVERS'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (servers.length === 0)
    throw new UsageError('give --bootstrap-servers HOST:PORT or set KAFKA_BOOTSTRAP_SERVERS (the address `npm run kafka` printed)');
  const partitions = positive('--partitions', values.partitions, 4);
  const count = positive('--records', values.records, 1000);

  const client = { clientId: 'msk-s3-sink-produce', bootstrapBrokers: servers, retries: 5, retryDelay: 200 };
  const admin = new Admin(client);
  const offsets = createKafkaAdmin({ bootstrapServers: servers, timeoutMs: 15_000 });
  const producer = new Producer({ ...client, serializers: stringSerializers, autocreateTopics: false });
  try {
    if (!(await admin.listTopics()).includes(topic)) {
      await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
      process.stderr.write(`produce: created topic ${topic} with ${partitions} partitions\n`);
    }
    // A new topic's partitions may have no leader for a moment: ask until every one has.
    let next: Array<{ partition: number; highWatermark: number }> = [];
    for (let attempt = 0; ; attempt++) {
      try {
        next = await offsets.listOffsets(topic);
        break;
      } catch (error) {
        if (attempt >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    const first = next.map((p) => p.highWatermark);
    const written = first.map(() => 0);
    const byPartition: Array<Array<{ topic: string; partition: number; key: string; value: string; timestamp: bigint }>> = first.map(
      () => [],
    );
    for (let n = 0; n < count; n++) {
      const partition = n % first.length;
      const offset = first[partition]! + written[partition]!++;
      const now = Date.now();
      byPartition[partition]!.push({
        topic,
        partition,
        key: `key-${offset}`,
        value: JSON.stringify({ id: recordId(topic, partition, offset), n, at: new Date(now).toISOString() }),
        timestamp: BigInt(now),
      });
    }
    for (const messages of byPartition) {
      for (let i = 0; i < messages.length; i += 500) await producer.send({ messages: messages.slice(i, i + 500) });
    }
    first.forEach((from, partition) => {
      if (written[partition]! > 0) process.stdout.write(`${topic}-${partition}: offsets ${from}..${from + written[partition]! - 1}\n`);
    });
    process.stderr.write(`produce: ${count} records to ${topic} (${first.length} partitions) on ${servers.join(',')}\n`);
  } finally {
    await Promise.all([producer.close(), admin.close(), offsets.close()].map((p) => p.catch(() => undefined)));
  }
}

try {
  await main(process.argv.slice(2), process.env);
} catch (error) {
  const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`produce: ${(error as Error).message}\n${usage ? `${USAGE}\n` : ''}`);
  process.exit(usage ? 2 : 1);
}
