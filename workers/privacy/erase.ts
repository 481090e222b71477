/**
 * GDPR erasure of one customer of one site (`DELETE /api/v1/customers/{id}`), down to the R2 archive.
 *
 * What goes, what stays:
 * - PII (`customer_pii`) and the customer record: deleted.
 * - Their events — by customer id, the anonymous events of the visitor ids they were identified with,
 *   and any event whose props or URL carry their id or email — are deleted from D1, and every R2 raw
 *   object that held one is rebuilt from the rows still claiming its key (deleted when none is left),
 *   exactly as the archiver builds objects, so each object's `count` metadata stays true.
 * - Orders, lines, refunds, tickets, survey answers and messages are business records (revenue,
 *   refunds and support KPIs must not change when a person leaves): they stay, detached from the person —
 *   their customer id becomes a pseudonym `erased-<24 hex>` (a keyed hash of site and id, so a retry
 *   and a later re-erasure give the same one, and it cannot be reversed without PII_KEY). Nothing else
 *   about the person remains to link it back.
 * - Nightly rows keyed by customer (RFM, CLV, churn, next actions, recommendations) are deleted; JSON
 *   results, analytics snapshots, model artefacts and archived reports are rewritten without them;
 *   their dead letters are deleted; every raw import file of the site is deleted (an import file is only
 *   needed while its job runs; the erasure refuses with 409 while one runs).
 * - The audit log keeps its rows, with the id and email replaced by the pseudonym; the erasure's own
 *   row never holds them (auth/audit.ts pseudonymises customer paths).
 * - The reconciliation stays exact: erased events are counted per UTC day in `erased_events`, and
 *   accepted + imported = stored + erased = archived + erased.
 *
 * Synchronous, not a queued job: the work is bounded by one person's data (their events through an
 * index, the site's R2 documents by listing), well inside a request's limits for the stores this serves.
 * Every step is idempotent, the R2 keys to rebuild are recorded in `erasures` before their events are
 * deleted, and PII — the needles for the R2 scrub — is deleted last, so a failed call is finished by
 * calling again.
 */
import { ApiError } from "../lib/http";
import type { Site } from "../lib/sites";
import { refreshRollups } from "../metrics/rollup";
import { putArchiveObject } from "../pipeline/archive";
import { STORED_COLUMNS } from "../pipeline/message";
import { auditAlias, customerHash, openPii, piiKeyring, pseudonym, type PiiKeyring, type StoredPii } from "./pii";
import { scrubHtml, scrubJson, textMentions, type Needles } from "./scrub";

/** Events erased from a site's UTC day (0 when none): the reconciliation adds them to D1 and R2. */
export async function erasedEvents(db: D1Database, site: string, day: string): Promise<number> {
	const row = await db.prepare("SELECT count FROM erased_events WHERE site = ? AND day = ?").bind(site, day).first<{ count: number }>();
	return row?.count ?? 0;
}

/** The pseudonym an erased customer's business records carry: `erased-` and the customer's keyed hash (auditAlias's). */
export const erasedAlias = async (ring: PiiKeyring, site: string, id: string) => `erased-${await customerHash(ring, site, id)}`;

export interface ErasureSummary {
	/** The pseudonym that now stands for the customer on orders, tickets, surveys and messages. */
	pseudonym: string;
	/** Nothing was left to erase: an earlier call had done it. */
	already_erased: boolean;
	events_erased: number;
	archive_objects_rewritten: number;
	archive_objects_deleted: number;
	documents_rewritten: number;
	documents_deleted: number;
	import_files_deleted: number;
	/** Rows changed per D1 table (deleted, re-keyed to the pseudonym, or rewritten). */
	d1_rows: Record<string, number>;
	/** (source, local day) rollups recomputed. */
	rollup_days: number;
}

// Their events: ?1 site, ?2 customer id, ?3 JSON array of their visitor ids, ?4 lower-cased email or null.
// Anonymous events of a visitor count as theirs; another customer's events on that visitor do not.
export const EVENT_MATCH = `site = ?1 AND (customer_id = ?2
	OR (customer_id IS NULL AND visitor IN (SELECT value FROM json_each(?3)))
	OR instr(props, json_quote(?2)) > 0
	OR (?4 IS NOT NULL AND (instr(lower(props), ?4) > 0 OR instr(lower(url), ?4) > 0 OR instr(lower(COALESCE(referrer, '')), ?4) > 0)))`;

/** Tables whose `customer_id` names a customer and whose rows are business records: re-keyed to the pseudonym. */
const REKEYED = ["orders", "tickets", "surveys", "messages"] as const;
/** Nightly rows about one customer: deleted. */
const PER_CUSTOMER = ["rfm_scores", "clv_scores", "churn_scores", "next_actions"] as const;
/** Tables the erasure handles itself, or that hold no customer data; any other table with `site` and `customer_id` columns is re-keyed too. */
const HANDLED = new Set<string>(["customers", "customer_pii", "events", ...REKEYED, ...PER_CUSTOMER]);

/** Erases one customer of a site. 404 when the site holds nothing of theirs and never did; 409 while an import runs. */
export async function eraseCustomer(env: Env, site: Site, id: string): Promise<ErasureSummary> {
	const db = env.DB;
	const ring = await piiKeyring(env);
	const subject = await pseudonym(ring, "erasure subject", `${site.id}\u0000${id}`);
	const alias = await erasedAlias(ring, site.id, id);

	// PII first: the email and name are what the R2 documents are searched for. They are deleted last.
	const piiRow = await db.prepare("SELECT email, name, kid FROM customer_pii WHERE site = ? AND customer_id = ?").bind(site.id, id).first<StoredPii>();
	const pii = piiRow ? await openPii(ring, site.id, id, piiRow) : { email: null, name: null };
	const needles: Needles = { id, email: pii.email, name: pii.name };
	const visitors = await db.prepare("SELECT DISTINCT visitor FROM events WHERE site = ? AND customer_id = ?").bind(site.id, id).all<{ visitor: string }>();
	const matchArgs = [site.id, id, JSON.stringify(visitors.results.map((v) => v.visitor)), pii.email?.toLowerCase() ?? null] as const;
	const match = (sql: string) => db.prepare(sql).bind(...matchArgs);

	const [keysRes, presentRes, priorRes] = await db.batch([
		match(`SELECT DISTINCT archive_key AS k FROM events WHERE ${EVENT_MATCH} AND archive_key IS NOT NULL`),
		db
			.prepare(
				`SELECT EXISTS (SELECT 1 FROM customers WHERE site = ?1 AND customer_id = ?2) OR EXISTS (SELECT 1 FROM customer_pii WHERE site = ?1 AND customer_id = ?2)
					OR ${REKEYED.map((t) => `EXISTS (SELECT 1 FROM ${t} WHERE site = ?1 AND customer_id = ?2)`).join(" OR ")}
					OR EXISTS (SELECT 1 FROM events WHERE site = ?1 AND customer_id = ?2) AS present`,
			)
			.bind(site.id, id),
		db.prepare("SELECT archive_keys FROM erasures WHERE site = ? AND subject = ?").bind(site.id, subject),
	]);
	const prior = (priorRes?.results[0] as { archive_keys: string } | undefined) ?? null;
	const present = Number((presentRes?.results[0] as { present: number } | undefined)?.present ?? 0) === 1;
	const newKeys = (keysRes?.results ?? []).map((r) => String((r as { k: string }).k));
	if (!present && !prior && !newKeys.length) throw new ApiError(404, "not_found", `no customer '${id}' on this site`, [{ field: "id", message: "unknown customer" }]);
	const running = await db.prepare("SELECT id FROM import_jobs WHERE site = ? AND status IN ('uploading', 'queued', 'running') LIMIT 1").bind(site.id).first<{ id: string }>();
	if (running) {
		throw new ApiError(409, "import_running", `import ${running.id} of this site is in progress and its file may hold this customer's rows; erase again when it has finished`, [
			{ field: "id", message: "retry after the running import" },
		]);
	}

	// 1. Remember which raw objects to rebuild before their rows go (a retry after a crash reads them here).
	const keys = [...new Set([...(prior ? (JSON.parse(prior.archive_keys) as string[]) : []), ...newKeys])].sort();
	const now = Date.now();
	await db
		.prepare(
			`INSERT INTO erasures (site, subject, pseudonym, status, archive_keys, requested_at) VALUES (?1, ?2, ?3, 'running', ?4, ?5)
			ON CONFLICT (site, subject) DO UPDATE SET archive_keys = excluded.archive_keys, status = 'running', completed_at = NULL`,
		)
		.bind(site.id, subject, alias, JSON.stringify(keys), now)
		.run();

	// 2. Their events: counted per UTC day of the event (the reconciliation's days) and deleted, in one transaction.
	const [countRes] = await db.batch([
		match(`SELECT COUNT(*) AS n FROM events WHERE ${EVENT_MATCH}`),
		match(
			`INSERT INTO erased_events (site, day, count) SELECT ?1, strftime('%Y-%m-%d', ts / 1000, 'unixepoch') AS day, COUNT(*) FROM events WHERE ${EVENT_MATCH} GROUP BY day
			ON CONFLICT (site, day) DO UPDATE SET count = erased_events.count + excluded.count`,
		),
		// The funnel and journey rollups re-roll the hours these events were in (until then they answer from the
		// events); the funnel and device-tally rows keyed by the customer's id go now.
		...["funnel_dirty", "journey_dirty"].map((t) =>
			match(`INSERT INTO ${t} (site, hour) SELECT DISTINCT ?1, ts / 3600000 FROM events WHERE ${EVENT_MATCH} ON CONFLICT (site, hour) DO UPDATE SET v = v + 1`),
		),
		db.prepare("DELETE FROM funnel_people WHERE site = ?1 AND person = ?2").bind(site.id, id),
		db.prepare("DELETE FROM customer_device_days WHERE site = ?1 AND customer_id = ?2").bind(site.id, id),
		match(`DELETE FROM events WHERE ${EVENT_MATCH}`),
	]);
	const eventsErased = Number((countRes?.results[0] as { n: number } | undefined)?.n ?? 0);

	// 3. Rebuild the raw objects that held them.
	let rewritten = 0;
	let removed = 0;
	for (const key of keys) {
		if ((await rebuildArchiveObject(db, env.ARCHIVE, key)) === "deleted") removed++;
		else rewritten++;
	}

	// 4. The site's other R2 documents.
	const docs = await scrubDocuments(env, site.id, needles);

	// 5. D1: business records re-keyed, per-customer rows deleted, documents rewritten, PII last.
	const d1 = await scrubD1(db, site.id, id, alias, await auditAlias(ring, site.id, id), needles);

	const rolled = await refreshRollups(env, site.id);
	const summary: ErasureSummary = {
		pseudonym: alias,
		already_erased: !present && !newKeys.length && eventsErased === 0,
		events_erased: eventsErased,
		archive_objects_rewritten: rewritten,
		archive_objects_deleted: removed,
		documents_rewritten: docs.rewritten,
		documents_deleted: docs.deleted,
		import_files_deleted: docs.importFiles,
		d1_rows: d1,
		rollup_days: rolled?.days ?? 0,
	};
	await db
		.prepare("UPDATE erasures SET status = 'done', archive_keys = '[]', completed_at = ?3, events_erased = events_erased + ?4, objects_rewritten = objects_rewritten + ?5, objects_deleted = objects_deleted + ?6 WHERE site = ?1 AND subject = ?2")
		.bind(site.id, subject, Date.now(), eventsErased, rewritten, removed)
		.run();
	return summary;
}

/**
 * Rebuilds one raw archive object from the D1 rows that claim its key, with the archive's own writer
 * (hour, import-job and compacted day objects alike); deletes it when none is left.
 */
async function rebuildArchiveObject(db: D1Database, bucket: R2Bucket, key: string): Promise<"rewritten" | "deleted"> {
	const rows = await db.prepare(`SELECT ${STORED_COLUMNS.join(", ")} FROM events WHERE archive_key = ? ORDER BY ts, id`).bind(key).all<Record<string, unknown>>();
	if (!rows.results.length) {
		await bucket.delete(key);
		return "deleted";
	}
	await putArchiveObject(bucket, key, rows.results);
	return "rewritten";
}

async function* listAll(bucket: R2Bucket, prefix: string): AsyncGenerator<R2Object> {
	let cursor: string | undefined;
	do {
		const page = await bucket.list({ prefix, cursor, include: ["httpMetadata", "customMetadata"] });
		yield* page.objects;
		cursor = page.truncated ? page.cursor : undefined;
	} while (cursor);
}

/**
 * Analytics snapshots, model artefacts and reports are rewritten without the person (scrub.ts); their
 * dead letters are deleted; every raw import file of the site is deleted.
 */
async function scrubDocuments(env: Env, site: string, n: Needles): Promise<{ rewritten: number; deleted: number; importFiles: number }> {
	const bucket = env.ARCHIVE;
	let rewritten = 0;
	let deleted = 0;
	for (const prefix of [`analytics/site=${site}/`, `models/site=${site}/`, `reports/site=${site}/`, `dead-letter/site=${site}/`]) {
		for await (const obj of listAll(bucket, prefix)) {
			const body = await bucket.get(obj.key);
			if (!body) continue;
			const text = await body.text();
			if (!textMentions(text, n)) continue;
			const next = prefix.startsWith("dead-letter/") ? null : obj.key.endsWith(".html") ? scrubHtml(text, n) : scrubJson(text, n);
			if (next === null) {
				await bucket.delete(obj.key);
				deleted++;
			} else if (next !== text) {
				await bucket.put(obj.key, next, { httpMetadata: obj.httpMetadata, customMetadata: obj.customMetadata });
				rewritten++;
			}
		}
	}
	let importFiles = 0;
	const files: string[] = [];
	for await (const obj of listAll(bucket, `imports/site=${site}/`)) files.push(obj.key);
	for (let i = 0; i < files.length; i += 1000) await bucket.delete(files.slice(i, i + 1000));
	importFiles = files.length;
	if (files.length) await env.DB.prepare("UPDATE import_jobs SET file_deleted_at = ? WHERE site = ? AND file_deleted_at IS NULL AND status IN ('done', 'failed')").bind(Date.now(), site).run();
	return { rewritten, deleted, importFiles };
}

/** Every path spelling of a customer id in a URL, and of an email in a query string. */
function urlSpellings(value: string): string[] {
	return [...new Set([value, encodeURIComponent(value), encodeURIComponent(value).replace(/%20/g, "+")])];
}

async function scrubD1(db: D1Database, site: string, id: string, alias: string, inAudit: string, n: Needles): Promise<Record<string, number>> {
	// Tables added later (connectors, …) with a customer_id column are re-keyed like the business records.
	const tables = await db
		.prepare(
			`SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_cf_%' AND m.name NOT LIKE 'd1_%'
				AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'customer_id')
				AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'site')`,
		)
		.all<{ name: string }>();
	const rekeyed = [...REKEYED, ...tables.results.map((t) => t.name).filter((t) => !HANDLED.has(t) && /^[a-z_][a-z0-9_]*$/.test(t))];

	// JSON documents in D1 that may name them: rewritten in JS (scrub.ts), like the R2 ones.
	const email = n.email?.toLowerCase() ?? "";
	const docs = await db
		.prepare("SELECT kind, as_of, json FROM analytics_results WHERE site = ?1 AND (instr(json, json_quote(?2)) > 0 OR (?3 <> '' AND instr(lower(json), ?3) > 0))")
		.bind(site, id, email)
		.all<{ kind: string; as_of: string; json: string }>();
	const issues = await db.prepare("SELECT kind, ref, detail FROM data_issues WHERE site = ?1 AND instr(detail, json_quote(?2)) > 0").bind(site, id).all<{ kind: string; ref: string; detail: string }>();
	// Audit rows: the customer's id in paths (/customers/<id>…) and their id or email in query strings.
	const idSpellings = urlSpellings(id);
	const emailSpellings = n.email ? urlSpellings(n.email) : [];
	const auditNeedles = [...idSpellings.map((s) => `/customers/${s}`), ...idSpellings.map((s) => `=${s}`), ...emailSpellings];
	const audit = await db
		.prepare(`SELECT id, path, query FROM audit_log WHERE ${auditNeedles.map((_, i) => `instr(lower(path || ' ' || COALESCE(query, '')), lower(?${i + 1})) > 0`).join(" OR ")}`)
		.bind(...auditNeedles)
		.all<{ id: number; path: string; query: string | null }>();
	const redact = (text: string) => {
		let out = text;
		for (const s of idSpellings) out = out.replaceAll(`/customers/${s}`, `/customers/${inAudit}`).replace(new RegExp(`=${escapeRegExp(s)}(?=&|$)`, "g"), `=${inAudit}`);
		for (const s of emailSpellings) out = out.replace(new RegExp(escapeRegExp(s), "gi"), inAudit);
		return out;
	};

	const stmts: { table: string; stmt: D1PreparedStatement }[] = [];
	const add = (table: string, sql: string, ...args: unknown[]) => stmts.push({ table, stmt: db.prepare(sql).bind(...args) });
	for (const t of rekeyed) {
		// OR IGNORE + DELETE: a row whose key already exists under the pseudonym (an earlier, partial run) is a duplicate.
		add(t, `UPDATE OR IGNORE ${t} SET customer_id = ?3 WHERE site = ?1 AND customer_id = ?2 RETURNING 1`, site, id, alias);
		add(t, `DELETE FROM ${t} WHERE site = ?1 AND customer_id = ?2 RETURNING 1`, site, id);
	}
	for (const t of PER_CUSTOMER) add(t, `DELETE FROM ${t} WHERE site = ?1 AND customer_id = ?2 RETURNING 1`, site, id);
	// `customer#<run>`: lists a nightly run has staged but not yet swapped in (predict-steps.ts), which would otherwise come back.
	add("recommendations", "DELETE FROM recommendations WHERE site = ?1 AND (kind = 'customer' OR kind LIKE 'customer#%') AND subject = ?2 RETURNING 1", site, id);
	for (const d of docs.results) {
		const next = scrubJson(d.json, n) ?? "null";
		add("analytics_results", "UPDATE analytics_results SET json = ?4 WHERE site = ?1 AND as_of = ?2 AND kind = ?3 RETURNING 1", site, d.as_of, d.kind, next);
	}
	for (const i of issues.results) {
		add("data_issues", "UPDATE data_issues SET detail = ?4 WHERE site = ?1 AND kind = ?2 AND ref = ?3 RETURNING 1", site, i.kind, i.ref, i.detail.replaceAll(JSON.stringify(id), JSON.stringify(alias)));
	}
	add(
		"import_rejects",
		"DELETE FROM import_rejects WHERE job IN (SELECT id FROM import_jobs WHERE site = ?1) AND (instr(reason, ?2) > 0 OR (?3 <> '' AND instr(lower(reason), ?3) > 0)) RETURNING 1",
		site,
		id,
		email,
	);
	for (const a of audit.results) add("audit_log", "UPDATE audit_log SET path = ?2, query = ?3 WHERE id = ?1 RETURNING 1", a.id, redact(a.path), a.query === null ? null : redact(a.query));
	add("customers", "DELETE FROM customers WHERE site = ?1 AND customer_id = ?2 RETURNING 1", site, id);
	add("customer_pii", "DELETE FROM customer_pii WHERE site = ?1 AND customer_id = ?2 RETURNING 1", site, id);

	const results = await db.batch(stmts.map((s) => s.stmt));
	const rows: Record<string, number> = {};
	results.forEach((r, i) => {
		const table = stmts[i]?.table ?? "";
		if (r.results.length) rows[table] = (rows[table] ?? 0) + r.results.length;
	});
	return rows;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
