/** The lines of an event segment: what they hold, and how received events become bytes to append. */
import type { Event } from '../../../shared/src/index.ts';
import type { EncodedLines } from './segment.ts';
import type { EventStatus, EventTexts } from './types.ts';

/** One line in an event segment: a whole event with its status, or a status change. */
export type EventRecord =
  | { t: 'e'; n: number; event: Event; status: EventStatus }
  | { t: 's'; id: string; patch: Partial<EventStatus> };

/**
 * The lines of newly received events numbered from `firstN`, all with `status`, as
 * `{"t":"e","n":…,"event":…,"status":…}` (what JSON.stringify writes for an EventRecord).
 * An event whose received text is given is copied byte for byte instead of serialised again;
 * the status is serialised once for the whole batch.
 */
export function encodeReceived(events: Event[], texts: EventTexts | undefined, firstN: number, status: EventStatus): EncodedLines {
  const suffix = Buffer.from(`,"status":${JSON.stringify(status)}}\n`);
  // A line may not hold a newline; received text with one (pretty-printed JSON) is serialised instead.
  const usable = texts && texts.bytes.indexOf(0x0a) === -1 ? texts : undefined;
  const prefixes: string[] = [];
  const json: (string | undefined)[] = [];
  const lengths: number[] = [];
  let total = 0;
  for (let i = 0; i < events.length; i++) {
    const prefix = `{"t":"e","n":${firstN + i},"event":`;
    const text = usable ? undefined : JSON.stringify(events[i]);
    const eventBytes = usable ? usable.ends[i] - usable.starts[i] : Buffer.byteLength(text!);
    prefixes.push(prefix);
    json.push(text);
    lengths.push(prefix.length + eventBytes + suffix.length - 1);
    total += lengths[i] + 1;
  }
  const bytes = Buffer.allocUnsafe(total);
  const starts: number[] = [];
  let at = 0;
  for (let i = 0; i < events.length; i++) {
    starts.push(at);
    at += bytes.write(prefixes[i], at, 'latin1');
    at += usable ? usable.bytes.copy(bytes, at, usable.starts[i], usable.ends[i]) : bytes.write(json[i]!, at, 'utf8');
    at += suffix.copy(bytes, at);
  }
  return { bytes, starts, lengths };
}
