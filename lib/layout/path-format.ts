/**
 * Path templates (lib/layout/layout.ts): parsing the two syntaxes into segments, and rendering a
 * record's directory path from them.
 */
import type { KafkaRecord } from '../core/model.ts';

/** A time field of a template, from the year down to the minute. */
export type TimeUnit = 'yyyy' | 'MM' | 'dd' | 'HH' | 'mm';
/** One piece of a parsed template: literal text or a variable. */
export type Segment =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'time'; readonly unit: TimeUnit }
  | { readonly kind: 'topic' }
  | { readonly kind: 'partition'; readonly padding: boolean }
  | { readonly kind: 'field' };

/** Each time field's span, to find a template's finest one (the default partition duration). */
export const UNIT_MS: Readonly<Record<TimeUnit, number>> = {
  yyyy: 366 * 86_400_000, // only for ordering; a year is never a duration default
  MM: 31 * 86_400_000,
  dd: 86_400_000,
  HH: 3_600_000,
  mm: 60_000,
};

/** Characters a template may hold outside its variables (safe in S3 keys and Hive paths). */
const LITERAL = /^[A-Za-z0-9=._\-/]*$/;

/**
 * Parses a path template. Two syntaxes:
 *
 * - Aiven's `file.name.template` variables: `{{topic}}`, `{{partition}}`,
 *   `{{partition:padding=true}}` (10 digits), `{{timestamp:unit=yyyy|MM|dd|HH|mm}}`, `{{field}}`;
 *   other text is literal.
 * - Confluent's `path.format` (Joda-Time): `'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH`: quoted
 *   text is literal, `YYYY`/`yyyy` `MM` `dd` `HH` `mm` are time fields, `/ = - _ .` literal.
 *
 * Throws a `TypeError` with the problem.
 */
export function parsePathFormat(template: string): Segment[] {
  if (template.trim() === '') throw new TypeError('path format is empty');
  if (template.startsWith('/') || template.endsWith('/')) throw new TypeError('path format must not start or end with "/"');
  const segments = template.includes('{{') ? parseAiven(template) : parseJoda(template);
  const text = segments.map((s) => (s.kind === 'literal' ? s.text : 'x')).join('');
  if (text.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new TypeError('path format has an empty, "." or ".." directory');
  }
  return mergeLiterals(segments);
}

function parseAiven(template: string): Segment[] {
  const segments: Segment[] = [];
  const pattern = /\{\{\s*([^}]*?)\s*\}\}/g;
  let last = 0;
  for (let match = pattern.exec(template); match; match = pattern.exec(template)) {
    literal(segments, template.slice(last, match.index));
    last = match.index + match[0].length;
    const variable = match[1]!;
    if (variable === 'topic') segments.push({ kind: 'topic' });
    else if (variable === 'partition' || variable === 'partition:padding=false') segments.push({ kind: 'partition', padding: false });
    else if (variable === 'partition:padding=true') segments.push({ kind: 'partition', padding: true });
    else if (variable === 'field') segments.push({ kind: 'field' });
    else {
      const unit = /^timestamp:unit=(yyyy|MM|dd|HH|mm)$/.exec(variable)?.[1] as TimeUnit | undefined;
      if (!unit) {
        throw new TypeError(
          `unknown variable {{${variable}}} (known: {{topic}}, {{partition}}, {{partition:padding=true}}, ` +
            '{{timestamp:unit=yyyy|MM|dd|HH|mm}}, {{field}})',
        );
      }
      segments.push({ kind: 'time', unit });
    }
  }
  literal(segments, template.slice(last));
  return segments;
}

function parseJoda(template: string): Segment[] {
  const segments: Segment[] = [];
  let i = 0;
  while (i < template.length) {
    const c = template[i]!;
    if (c === "'") {
      const end = template.indexOf("'", i + 1);
      if (end < 0) throw new TypeError(`unterminated quote in path format at ${i}`);
      literal(segments, end === i + 1 ? "'" : template.slice(i + 1, end));
      i = end + 1;
    } else if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (j < template.length && template[j] === c) j++;
      const run = template.slice(i, j);
      const unit = ({ YYYY: 'yyyy', yyyy: 'yyyy', MM: 'MM', dd: 'dd', HH: 'HH', mm: 'mm' } as Record<string, TimeUnit>)[run];
      if (!unit) throw new TypeError(`path format field "${run}" is not supported (YYYY, MM, dd, HH, mm; quote literal text: 'year'=YYYY)`);
      segments.push({ kind: 'time', unit });
      i = j;
    } else {
      literal(segments, c);
      i += 1;
    }
  }
  return segments;
}

function literal(segments: Segment[], text: string): void {
  if (text === '') return;
  if (!LITERAL.test(text)) throw new TypeError(`path format text "${text}" may hold only letters, digits and = . _ - /`);
  segments.push({ kind: 'literal', text });
}

function mergeLiterals(segments: Segment[]): Segment[] {
  const merged: Segment[] = [];
  for (const segment of segments) {
    const previous = merged.at(-1);
    if (segment.kind === 'literal' && previous?.kind === 'literal')
      merged[merged.length - 1] = { kind: 'literal', text: previous.text + segment.text };
    else merged.push(segment);
  }
  return merged;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/**
 * A record's directory path: `segments` with the record's topic and partition, the field
 * partitioner's path component `field`, and the time fields of `local` (the start of the record's
 * time partition, as a UTC date whose fields are the local ones). `field` and `local` are given
 * whenever the template has a field or a time variable.
 */
export function renderPath(segments: readonly Segment[], record: KafkaRecord, local: Date | undefined, field: string | undefined): string {
  let path = '';
  for (const segment of segments) {
    switch (segment.kind) {
      case 'literal':
        path += segment.text;
        break;
      case 'topic':
        path += record.topic;
        break;
      case 'partition':
        path += segment.padding ? pad(record.partition, 10) : String(record.partition);
        break;
      case 'field':
        path += field!;
        break;
      case 'time': {
        const d = local!;
        if (segment.unit === 'yyyy') path += pad(d.getUTCFullYear(), 4);
        else if (segment.unit === 'MM') path += pad(d.getUTCMonth() + 1, 2);
        else if (segment.unit === 'dd') path += pad(d.getUTCDate(), 2);
        else if (segment.unit === 'HH') path += pad(d.getUTCHours(), 2);
        else path += pad(d.getUTCMinutes(), 2);
        break;
      }
    }
  }
  return path;
}

/** One directory of a template: its shape with variables as `*`, and whether a record value goes into it. */
export interface TemplateDirectory {
  readonly shape: string;
  readonly hasField: boolean;
}

/** The directories of a template, in order: `year={{timestamp:unit=yyyy}}/x` gives `year=*` and `x`. */
export function templateDirectories(segments: readonly Segment[]): TemplateDirectory[] {
  const directories: Array<{ shape: string; hasField: boolean }> = [{ shape: '', hasField: false }];
  for (const segment of segments) {
    if (segment.kind === 'literal') {
      const [first, ...rest] = segment.text.split('/');
      directories.at(-1)!.shape += first!;
      for (const text of rest) directories.push({ shape: text, hasField: false });
    } else {
      directories.at(-1)!.shape += '*';
      if (segment.kind === 'field') directories.at(-1)!.hasField = true;
    }
  }
  return directories;
}
