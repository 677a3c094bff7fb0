/**
 * Everything local mode starts (emulators, the fault proxy, SDK clients) registers how to stop it
 * here; `stopAll` stops them once, newest first, on success, on error and on SIGINT/SIGTERM (the
 * handlers are installed when this module is first imported).
 */

// ---------------------------------------------------------------------------------------------
// Resources: everything started is stopped, on success, on error and on SIGINT/SIGTERM.

/** How to stop each thing started, in start order. */
export const stoppers: Array<() => Promise<unknown>> = [];
let stopping: Promise<void> | undefined;
/** Stops everything once, newest first; later calls get the same promise. */
export function stopAll(): Promise<void> {
  stopping ??= (async () => {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
  })();
  return stopping;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stdout.write('\n');
    process.stderr.write(`${signal}: stopping the emulators\n`);
    void stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}
