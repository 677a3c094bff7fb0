/** Helpers of the Kafka side of the worker's stop (`StandaloneWorker#close`). */

/** One step of the Kafka side of a stop; `leaves`: the step that ends the group membership. */
export interface KafkaStopStep {
  readonly name: string;
  readonly leaves: boolean;
}

/** True when `work` settles within `ms`; false when the time is up first (`work` goes on, unobserved). */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
