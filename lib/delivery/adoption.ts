import type { NamingSettings } from '../layout/naming.ts';
import { defaultLayout } from './encode-chunk.ts';
import type { DeliveryOptions } from './options.ts';

/** The settings this writer's keys depend on besides the records. */
export function namingOf(options: DeliveryOptions): NamingSettings {
  return {
    prefix: options.prefix,
    format: options.format.name,
    formatVersion: options.format.version,
    extension: `${options.format.extension}${options.compression.extension}`,
    layout: { ...(options.layout ?? defaultLayout).settings },
  };
}
