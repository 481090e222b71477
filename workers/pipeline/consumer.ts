/**
 * Queue handlers. `b2g-events`: validate each message, store the batch in D1, confirm it to the
 * LiveSite outboxes that keep the events until then (outbox.ts), archive it to R2, ack.
 * Any failure retries every message with exponential backoff; after max_retries the queue moves
 * them to `b2g-events-dlq`, whose handler parks each one in R2 under `dead-letter/` for inspection
 * and replay (R2, not D1, because D1 may be what is failing).
 */
import { archiveEvents, storeEvents } from "./archive";
import { d1WriteFault, InjectedFault } from "./faults";
import { eventMessageSchema, type StoredEvent } from "./message";
import { confirmStored } from "./outbox";

export const EVENTS_QUEUE = "b2g-events";
export const DEAD_LETTER_QUEUE = "b2g-events-dlq";
const MAX_DELAY_S = 300;

/** Seconds to wait before attempt `attempts + 1`: base · 2^(attempts−1), capped at 5 minutes. */
export function backoffSeconds(attempts: number, baseSeconds: number): number {
	return Math.min(MAX_DELAY_S, Math.round(baseSeconds * 2 ** Math.max(0, attempts - 1)));
}

export async function consumeEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
	const good: { msg: Message<unknown>; event: StoredEvent; live: number | undefined }[] = [];
	for (const msg of batch.messages) {
		const parsed = eventMessageSchema.safeParse(msg.body);
		if (parsed.success) good.push({ msg, event: parsed.data.event, live: parsed.data.live });
		else {
			// A malformed message can never succeed: park it at once instead of burning retries.
			await env.DEAD_LETTERS.send({ reason: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "), body: msg.body });
			msg.ack();
		}
	}
	if (!good.length) return;
	try {
		const events = good.map((g) => g.event);
		const fault = d1WriteFault(env);
		if (fault === "refuse") throw new InjectedFault("injected D1 write failure (nothing written)");
		await storeEvents(env.DB, events);
		if (fault === "lose") throw new InjectedFault("injected D1 write failure (written, answer lost)");
		// Committed: every event of the batch is in D1 now (new or already there), so their outbox rows can go.
		await confirmStored(env, good.map((g) => ({ site: g.event.site, id: g.event.id, live: g.live })));
		await archiveEvents(env.DB, env.ARCHIVE, events);
		for (const g of good) g.msg.ack();
	} catch (err) {
		const base = Number(env.RETRY_BASE_SECONDS);
		console.error(`event batch of ${good.length} failed; retrying`, err instanceof Error ? err.message : err);
		for (const g of good) g.msg.retry({ delaySeconds: backoffSeconds(g.msg.attempts, Number.isFinite(base) ? base : 2) });
	}
}

/** Key of a parked dead letter: `dead-letter/site=<site>/<message id>.json`. */
export function deadLetterKey(site: string, messageId: string): string {
	return `dead-letter/site=${site}/${messageId}.json`;
}

export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
	for (const msg of batch.messages) {
		const event = eventMessageSchema.safeParse(msg.body);
		const site = event.success ? event.data.event.site : "_invalid";
		await env.ARCHIVE.put(
			deadLetterKey(site, msg.id),
			JSON.stringify({ message_id: msg.id, attempts: msg.attempts, enqueued_at: msg.timestamp.getTime(), parked_at: Date.now(), body: msg.body }),
			{ httpMetadata: { contentType: "application/json" } },
		);
		msg.ack();
	}
}
