/** How `npm run bench` prints: lines, sections, tables and units. */

export const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
export function table(
  headers: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number>>,
  align: 'left' | 'right' = 'right',
): void {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]) =>
    row.map((cell, i) => (i === 0 || align === 'left' ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  out(`  ${line(headers)}`);
  out(`  ${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const row of cells.slice(1)) out(`  ${line(row)}`);
}
export const usd = (value: number): string => (value >= 0.01 ? `$${value.toFixed(4)}` : `$${value.toFixed(5)}`);
export const int = (value: number): string => Math.round(value).toLocaleString('en-US');
export const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
export const section = (title: string): void => {
  out();
  out(title);
};
