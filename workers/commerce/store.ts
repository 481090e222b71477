/**
 * Turns entity writes into D1 statements: idempotent upserts that skip unchanged rows.
 *
 * Writes of one shape (same table and columns) are sent as one set-based statement that reads its
 * rows from a single JSON parameter (`… SELECT … FROM json_each(?)`), so a batch of a thousand
 * records is a handful of statements instead of thousands, and D1's 100-bound-parameter limit does
 * not apply. That is only equivalent to running the writes one by one when no two of them touch the
 * same row; when some do (a repeated id in one request), the writes run one statement each, in order.
 */
import { jsonChunks } from "../lib/json-rows";
import { isUnsealedPiiWrite, sealPiiWrites } from "../privacy/pii";
import { qualityStatements } from "../quality/rules";
import type { Write } from "./entities";

const sqlCache = new Map<string, string>();
function cached(key: string, build: () => string): string {
	let sql = sqlCache.get(key);
	if (sql === undefined) sqlCache.set(key, (sql = build()));
	return sql;
}

/**
 * `ON CONFLICT (site, key…) DO UPDATE … WHERE <row differs>`: a repeated payload changes nothing
 * (not even updated_at), a corrected one updates the row in place.
 */
function conflictClause(table: string, key: string[], columns: string[]): string {
	const conflict = ["site", ...key];
	const data = columns.filter((c) => !conflict.includes(c) && c !== "updated_at");
	if (!data.length) return `ON CONFLICT (${conflict.join(", ")}) DO NOTHING`;
	const set = [...data, ...(columns.includes("updated_at") ? ["updated_at"] : [])].map((c) => `${c} = excluded.${c}`).join(", ");
	return `ON CONFLICT (${conflict.join(", ")}) DO UPDATE SET ${set} WHERE (${data.map((c) => `${table}.${c}`).join(", ")}) IS NOT (${data.map((c) => `excluded.${c}`).join(", ")})`;
}

/** Each changed row answers with its key as a JSON array, so a row can be traced back to the write (and record) that changed it. */
const returningKey = (columns: string[]) => `json_array(${columns.join(", ")}) AS k`;

const upsertOneSql = (table: string, key: string[], columns: string[]) =>
	cached(`1|${table}|${key}|${columns}`, () => `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")}) ${conflictClause(table, key, columns)} RETURNING ${returningKey(["site", ...key])}`);

/** Rows come as one JSON array of arrays; `WHERE true` keeps SQLite from reading ON CONFLICT as a join clause. */
const upsertManySql = (table: string, key: string[], columns: string[]) =>
	cached(`n|${table}|${key}|${columns}`, () => `INSERT INTO ${table} (${columns.join(", ")}) SELECT ${columns.map((_, i) => `value ->> ${i}`).join(", ")} FROM json_each(?) WHERE true ${conflictClause(table, key, columns)} RETURNING ${returningKey(["site", ...key])}`);

const deleteOneSql = (table: string, where: string[], keep: string) =>
	cached(`d1|${table}|${where}|${keep}`, () => `DELETE FROM ${table} WHERE ${where.map((c) => `${c} = ?`).join(" AND ")} AND ${keep} NOT IN (SELECT value FROM json_each(?)) RETURNING ${returningKey(where)}`);

/** Each JSON row is `[where values…, [kept values]]`; rows are found through the primary key, not by scanning. */
const deleteManySql = (table: string, where: string[], keep: string) =>
	cached(
		`dn|${table}|${where}|${keep}`,
		() =>
			`DELETE FROM ${table} WHERE rowid IN (SELECT t.rowid FROM json_each(?) j JOIN ${table} t ON ${where.map((c, i) => `t.${c} = j.value ->> ${i}`).join(" AND ")} WHERE t.${keep} NOT IN (SELECT value FROM json_each(j.value -> ${where.length}))) RETURNING ${returningKey(where)}`,
	);

const sqlValue = (v: string | number | boolean | null | undefined) => (typeof v === "boolean" ? Number(v) : (v ?? null));

/** D1 statements for some writes, and which of them are upserts (whose changes count as rows changed). */
export interface Planned {
	statements: D1PreparedStatement[];
	upserts: boolean[];
	/** Per statement: the indexes of the writes it carries (none for the quality checks). */
	members: number[][];
}

/** Identity of the row (or child set) a write touches. */
function target(w: Write): string {
	if (w.kind === "upsert") return JSON.stringify([w.table, ...["site", ...w.key].map((k) => w.values[k] ?? null)]);
	return JSON.stringify(["-", w.table, ...Object.values(w.where)]);
}

function oneByOne(db: D1Database, writes: Write[]): Planned {
	return {
		statements: writes.map((w) => {
			if (w.kind === "delete") {
				const cols = Object.keys(w.where);
				return db.prepare(deleteOneSql(w.table, cols, w.keep.column)).bind(...cols.map((c) => w.where[c] ?? null), JSON.stringify(w.keep.values));
			}
			const cols = Object.keys(w.values);
			return db.prepare(upsertOneSql(w.table, w.key, cols)).bind(...cols.map((c) => sqlValue(w.values[c])));
		}),
		upserts: writes.map((w) => w.kind === "upsert"),
		members: writes.map((_, i) => [i]),
	};
}

/**
 * Plans writes as set-based statements, one group per shape in order of first appearance. When two
 * writes touch the same row, falls back to one statement per write in the given order.
 */
export function toStatements(db: D1Database, writes: Write[]): Planned {
	// Personal data is encrypted before it reaches SQL (privacy/pii.ts sealPiiWrites, called by applyWrites):
	// a path that skipped it fails here instead of storing plaintext.
	if (writes.some(isUnsealedPiiWrite)) throw new Error("customer_pii writes must be sealed (privacy/pii.ts sealPiiWrites) before planning");
	const seen = new Set<string>();
	for (const w of writes) {
		const t = target(w);
		if (seen.has(t)) return withQualityChecks(db, writes, oneByOne(db, writes));
		seen.add(t);
	}
	// With every target distinct, writes of different shapes commute: an upsert touches one row, a delete
	// only its own parent's child rows that are not kept, and a kept child is never deleted.
	const groups = new Map<string, { sql: string; rows: unknown[][]; upsert: boolean; members: number[] }>();
	for (const [i, w] of writes.entries()) {
		if (w.kind === "upsert") {
			const cols = Object.keys(w.values);
			const shape = `u|${w.table}|${w.key}|${cols}`;
			let g = groups.get(shape);
			if (!g) groups.set(shape, (g = { sql: upsertManySql(w.table, w.key, cols), rows: [], upsert: true, members: [] }));
			g.rows.push(cols.map((c) => sqlValue(w.values[c])));
			g.members.push(i);
		} else {
			const cols = Object.keys(w.where);
			const shape = `d|${w.table}|${cols}|${w.keep.column}`;
			let g = groups.get(shape);
			if (!g) groups.set(shape, (g = { sql: deleteManySql(w.table, cols, w.keep.column), rows: [], upsert: false, members: [] }));
			g.rows.push([...cols.map((c) => w.where[c] ?? null), w.keep.values]);
			g.members.push(i);
		}
	}
	const planned: Planned = { statements: [], upserts: [], members: [] };
	for (const g of groups.values()) {
		let at = 0;
		for (const json of jsonChunks(g.rows)) {
			const n = (JSON.parse(json) as unknown[]).length;
			planned.statements.push(db.prepare(g.sql).bind(json));
			planned.upserts.push(g.upsert);
			planned.members.push(g.members.slice(at, at + n));
			at += n;
		}
	}
	return withQualityChecks(db, writes, planned);
}

/**
 * Appends the data-quality checks of the orders the writes touch (workers/quality/rules.ts): they run
 * after the writes in the same transaction, so every write path records and resolves issues alike, and
 * they are not upserts, so they never count as rows changed.
 */
function withQualityChecks(db: D1Database, writes: Write[], planned: Planned): Planned {
	for (const stmt of qualityStatements(db, writes, Date.now())) {
		planned.statements.push(stmt);
		planned.upserts.push(false);
		planned.members.push([]);
	}
	return planned;
}

/**
 * Rows inserted or changed by the upserts of a plan, from its batch results (same order): the rows
 * they RETURNed. Not `meta.changes`, which also counts what the rollup triggers wrote.
 */
export function changedRows(planned: Planned, results: D1Result[]): number {
	return results.reduce((n, r, i) => n + (planned.upserts[i] ? r.results.length : 0), 0);
}

/** The key a write's changed rows answer with (RETURNING json_array of the conflict key, or of a delete's parent). */
function writeKey(w: Write): string {
	const values = w.kind === "upsert" ? ["site", ...w.key].map((k) => sqlValue(w.values[k])) : Object.values(w.where).map((v) => sqlValue(v));
	return JSON.stringify(values);
}

/**
 * Records that changed: those with at least one write that inserted, changed or deleted a row (an order
 * whose only change is a dropped line counts; a customer's PII row is the same record, not a second one).
 * `recordOf[i]` is the record of write i. From the RETURNed keys, never `meta.changes` (triggers count there).
 */
export function changedRecords(writes: Write[], planned: Planned, results: D1Result[], recordOf: number[]): number {
	const changed = new Set<number>();
	results.forEach((r, i) => {
		const members = planned.members[i] ?? [];
		if (!members.length || !r.results.length) return;
		if (members.length === 1) {
			changed.add(recordOf[members[0] as number] as number);
			return;
		}
		// Within one set-based statement every write's key is distinct (toStatements falls back otherwise).
		const byKey = new Map(members.map((m) => [writeKey(writes[m] as Write), m]));
		for (const row of r.results as { k?: unknown }[]) {
			const m = byKey.get(JSON.stringify(JSON.parse(String(row.k))));
			if (m !== undefined) changed.add(recordOf[m] as number);
		}
	});
	return changed.size;
}

/**
 * Runs writes in one D1 batch (one transaction), customer_pii values encrypted first (PII_KEY). With
 * `recordOf` (the record of each write), returns how many records changed; without, how many rows the
 * upserts inserted or changed.
 */
export async function applyWrites(db: D1Database, plain: Write[], recordOf?: number[]): Promise<{ changed: number }> {
	if (!plain.length) return { changed: 0 };
	// One-to-one with `plain`, so recordOf still lines up.
	const writes = await sealPiiWrites(plain);
	const planned = toStatements(db, writes);
	const results = await db.batch(planned.statements);
	return { changed: recordOf ? changedRecords(writes, planned, results, recordOf) : changedRows(planned, results) };
}


