/** Local mode's console output: lines, counts, sizes, aligned tables and the progress bar. */

// ---------------------------------------------------------------------------------------------
// Output helpers

/** Prints a line to stdout. */
export const out = (line = ''): void => void process.stdout.write(`${line}\n`);
/** 12,345. */
export const count = (n: number): string => n.toLocaleString('en-US');
/** `1 record`, `2 records`. */
export const plural = (n: number, word: string): string => `${count(n)} ${word}${n === 1 ? '' : 's'}`;
/** Milliseconds as `1.2 s`. */
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
/** Bytes as B, KiB or MiB. */
export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
/** Rows as aligned columns (the last column is not padded). */
export function table(rows: readonly (readonly string[])[], indent = '  '): void {
  if (rows.length === 0) return;
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows)
    out(indent + row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
}
/** `Name: message` of an error, for one line of output. */
export const errorText = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

// ---------------------------------------------------------------------------------------------
// The generated stream, through the simulated event source mapping

/** A bar with percentage and ETA on a terminal; a line every 10 % otherwise (logs, CI). */
export function progressReporter(total: number): { update(done: number, batches: number, final?: boolean): void } {
  const started = performance.now();
  const tty = process.stdout.isTTY === true;
  const width = 24;
  let lastDraw = 0;
  let nextStep = 0.1;
  return {
    update(done, batches, final = false) {
      const elapsed = (performance.now() - started) / 1000;
      const rate = elapsed > 0 ? done / elapsed : 0;
      const share = total === 0 ? 1 : Math.min(1, done / total);
      const counts = `${count(done)}/${count(total)} records  ${plural(batches, 'batch').replace('batchs', 'batches')}  ${count(Math.round(rate))} records/s`;
      if (tty) {
        if (!final && performance.now() - lastDraw < 100) return;
        lastDraw = performance.now();
        const filled = Math.round(share * width);
        const eta = final || rate === 0 ? '' : `  ETA ${seconds(((total - done) / rate) * 1000)}`;
        const bar = `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(Math.floor(share * 100)).padStart(3)}%`;
        process.stdout.write(`\r\x1b[2K  ${bar}  ${counts}${eta}${final ? '\n' : ''}`);
      } else if (final || share >= nextStep) {
        while (share >= nextStep) nextStep += 0.1;
        if (!final || share < 1 || nextStep <= 1.05) out(`  ${String(Math.floor(share * 100)).padStart(3)}%  ${counts}`);
      }
    },
  };
}

/** Clears a progress bar line on a terminal before another line is printed. */
export const clearLine = (): void => void (process.stdout.isTTY && process.stdout.write('\r\x1b[2K'));
