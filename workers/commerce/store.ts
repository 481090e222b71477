/** Turns entity writes into D1 statements: idempotent upserts that skip unchanged rows. */
import type { Write } from "./entities";

const sqlCache = new Map<string, string>();

/**
 * `INSERT … ON CONFLICT (site, key…) DO UPDATE … WHERE <row differs>`: a repeated payload changes
 * nothing (not even updated_at), a corrected one updates the row in place.
 */
function upsertSql(table: string, key: string[], columns: string[]): string {
	const cacheKey = `${table}|${key.join(",")}|${columns.join(",")}`;
	const cached = sqlCache.get(cacheKey);
	if (cached) return cached;
	const conflict = ["site", ...key];
	const data = columns.filter((c) => !conflict.includes(c) && c !== "updated_at");
	const set = [...data, ...(columns.includes("updated_at") ? ["updated_at"] : [])].map((c) => `${c} = excluded.${c}`).join(", ");
	const differs = data.length ? ` WHERE (${data.map((c) => `${table}.${c}`).join(", ")}) IS NOT (${data.map((c) => `excluded.${c}`).join(", ")})` : "";
	const sql = `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")}) ON CONFLICT (${conflict.join(", ")}) DO ${data.length ? `UPDATE SET ${set}${differs}` : "NOTHING"}`;
	sqlCache.set(cacheKey, sql);
	return sql;
}

export function toStatements(db: D1Database, writes: Write[]): D1PreparedStatement[] {
	return writes.map((w) => {
		if (w.kind === "delete") {
			const cols = Object.keys(w.where);
			const sql = `DELETE FROM ${w.table} WHERE ${cols.map((c) => `${c} = ?`).join(" AND ")} AND ${w.keep.column} NOT IN (SELECT value FROM json_each(?))`;
			return db.prepare(sql).bind(...cols.map((c) => w.where[c] ?? null), JSON.stringify(w.keep.values));
		}
		const cols = Object.keys(w.values);
		return db.prepare(upsertSql(w.table, w.key, cols)).bind(...cols.map((c) => { const v = w.values[c]; return typeof v === "boolean" ? Number(v) : (v ?? null); }));
	});
}

/** Rows inserted or changed by the upserts among `writes`, from their batch results (same order). */
export function changedRows(writes: Write[], results: D1Result[]): number {
	return results.reduce((n, r, i) => n + (writes[i]?.kind === "upsert" ? (r.meta.changes ?? 0) : 0), 0);
}

/** Runs writes in one D1 batch (one transaction). Returns how many upserts inserted or changed a row. */
export async function applyWrites(db: D1Database, writes: Write[]): Promise<{ changed: number }> {
	if (!writes.length) return { changed: 0 };
	return { changed: changedRows(writes, await db.batch(toStatements(db, writes))) };
}
