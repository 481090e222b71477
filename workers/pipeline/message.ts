/**
 * What travels from ingest to the queue consumer, and what lands in D1 and in the R2 archive.
 * A StoredEvent is one enriched event; its keys are the `events` table's column names and the
 * NDJSON keys of the archive, so the three never drift apart.
 */
import { z } from "zod";

const nullableText = z.string().nullable();

export const storedEventSchema = z.strictObject({
	site: z.string(),
	id: z.string(),
	name: z.string(),
	ts: z.number().int(),
	received_at: z.number().int(),
	visitor: z.string(),
	customer_id: nullableText,
	url: z.string(),
	host: z.string(),
	path: z.string(),
	referrer: nullableText,
	ref_source: nullableText,
	channel: z.string(),
	utm_source: nullableText,
	utm_medium: nullableText,
	utm_campaign: nullableText,
	utm_term: nullableText,
	utm_content: nullableText,
	country: nullableText,
	region: nullableText,
	city: nullableText,
	device: z.string(),
	browser: nullableText,
	os: nullableText,
	order_id: nullableText,
	sku: nullableText,
	value_minor: z.number().int().nullable(),
	currency: nullableText,
	props: z.record(z.string(), z.unknown()),
});

export type StoredEvent = z.infer<typeof storedEventSchema>;

/** Column order used for inserts and archive reads (all keys of StoredEvent). */
export const STORED_COLUMNS = Object.keys(storedEventSchema.shape) as (keyof StoredEvent)[];

/**
 * Queue message body: one event per message, so a poison event cannot hold back its neighbours.
 * `live` is the LiveSite shard whose outbox holds the event until the consumer confirms it stored
 * (workers/pipeline/outbox.ts); absent for messages no outbox waits on (dead-letter replays of old ones).
 */
export const eventMessageSchema = z.strictObject({ v: z.literal(1), event: storedEventSchema, live: z.number().int().min(0).max(15).optional() });
export type EventMessage = z.infer<typeof eventMessageSchema>;

/** Queue messages must stay under 128 KB and a sendBatch under 256 KB / 100 messages. */
export const SEND_BATCH_BYTES = 240_000;
export const SEND_BATCH_COUNT = 100;

/** Splits messages into sendBatch-sized chunks by count and serialized size. */
export function chunkForSend<T>(bodies: T[]): T[][] {
	const chunks: T[][] = [];
	let current: T[] = [];
	let bytes = 0;
	for (const body of bodies) {
		const size = JSON.stringify(body).length + 64;
		if (current.length && (current.length >= SEND_BATCH_COUNT || bytes + size > SEND_BATCH_BYTES)) {
			chunks.push(current);
			current = [];
			bytes = 0;
		}
		current.push(body);
		bytes += size;
	}
	if (current.length) chunks.push(current);
	return chunks;
}
