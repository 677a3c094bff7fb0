/**
 * `npm run kafka`: starts a real single-node Apache Kafka broker (KRaft) on a free loopback
 * port, prints its bootstrap address and serves until Ctrl-C (or SIGTERM), then stops it cleanly.
 * The first run fetches Kafka's jars from Maven Central (with `mvn`) into the project's cache
 * (`${XDG_CACHE_HOME:-~/.cache}/msk-s3-sink/`, or `$MSK_S3_SINK_CACHE_DIR`). A missing `java`
 * (or `mvn`, before that first fetch) fails in one line saying what to install.
 */
import { KafkaBrokerStartError, startKafkaBroker } from '../testkit/emulators/kafka-broker.ts';
import { PrerequisiteError } from '../testkit/emulators/prerequisites.ts';

const started = Date.now();
let broker;
try {
  broker = await startKafkaBroker();
} catch (err) {
  if (err instanceof KafkaBrokerStartError || err instanceof PrerequisiteError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
process.stderr.write(
  `kafka: broker (pid ${broker.pid}, files in ${broker.dataDir}) started in ${Date.now() - started} ms; Ctrl-C stops it\n`,
);
process.stdout.write(`bootstrap.servers=${broker.bootstrap}\n`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  process.stderr.write('kafka: stopping the broker\n');
  void broker.stop().then(() => {
    process.stderr.write('kafka: stopped\n');
    process.exit(0);
  });
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
