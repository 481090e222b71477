/** Sessions of one person's events (time order): a gap over 30 minutes starts a new one, as everywhere else. */
import { SESSION_GAP_MS } from "../customers/journeys";

export interface PersonSession {
	start: number;
	end: number;
	/** Event names seen in the session. */
	names: Set<string>;
}

/** Splits events sorted by `ts` (UTC ms) into sessions at gaps over SESSION_GAP_MS. */
export function sessionsOf(events: readonly { ts: number; name: string }[]): PersonSession[] {
	const out: PersonSession[] = [];
	let cur: PersonSession | undefined;
	for (const e of events) {
		if (!cur || e.ts - cur.end > SESSION_GAP_MS) out.push((cur = { start: e.ts, end: e.ts, names: new Set() }));
		cur.end = e.ts;
		cur.names.add(e.name);
	}
	return out;
}
