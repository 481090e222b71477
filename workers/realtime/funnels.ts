/**
 * Live funnels: today's people per step of each of the site's funnels, from the funnel events a
 * LiveSite object keeps for the local day, matched by the same pure code as the historical report
 * (workers/funnels/match.ts). Live counts are people per step only; medians and breakdowns come from
 * the report, because per-shard medians do not merge.
 */
import { siteFunnels } from "../funnels/store";
import { bestAttempt, type FunnelDef, type FunnelEvent } from "../funnels/match";
import { withConversion, type LiveFunnel } from "./snapshot";

export interface FunnelDefs {
	list: FunnelDef[];
	/** Every event name that is a step of some funnel: the events worth keeping. */
	names: Set<string>;
}

/** The site's funnels (its saved set, else the default funnel). */
export async function loadFunnelDefs(db: D1Database, site: string): Promise<FunnelDefs> {
	const list = await siteFunnels(db, site);
	return { list, names: new Set(list.flatMap((f) => f.steps.map((s) => s.event))) };
}

/** People per step of each funnel from rows ordered by person, then time. */
export function liveFunnels(defs: FunnelDef[], rows: { person: string; name: string; ts: number }[]): LiveFunnel[] {
	return defs.map((def) => {
		const users = def.steps.map(() => 0);
		let i = 0;
		while (i < rows.length) {
			const person = rows[i]?.person;
			const events: FunnelEvent[] = [];
			for (; i < rows.length && rows[i]?.person === person; i++) {
				const r = rows[i];
				if (r) events.push({ name: r.name, ts: r.ts });
			}
			const { depth } = bestAttempt(def, events);
			for (let s = 0; s < depth; s++) users[s] = (users[s] ?? 0) + 1;
		}
		return { id: def.id, name: def.name, steps: withConversion(def.steps.map((s, k) => ({ event: s.event, label: s.label ?? s.event, users: users[k] ?? 0 }))) };
	});
}
