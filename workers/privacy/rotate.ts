/**
 * PII key rotation: re-encrypts customer_pii rows that are not under the current PII_KEY — rows under
 * PII_KEY_PREVIOUS, and plaintext rows from before migration 0019 (kid NULL) — a bounded number per call.
 * Each row is rewritten with a compare-and-set on the kid it was read with, so concurrent rotations and
 * upserts never overwrite each other's newer value.
 */
import { openPii, piiKeyring, sealPii, type StoredPii } from "./pii";

export interface RotationResult {
	kid: string;
	rotated: number;
	/** Rows still not under the current key (call again while > 0). */
	remaining: number;
}

/** Re-encrypts up to `limit` rows under the current key (all sites). */
export async function rotatePii(env: { DB: D1Database; PII_KEY?: string; PII_KEY_PREVIOUS?: string }, limit = 500): Promise<RotationResult> {
	const db = env.DB;
	const ring = await piiKeyring(env);
	const kid = ring.current.kid;
	const rows = await db
		.prepare("SELECT site, customer_id, email, name, kid FROM customer_pii WHERE kid IS NULL OR kid <> ? LIMIT ?")
		.bind(kid, limit)
		.all<StoredPii & { site: string; customer_id: string }>();
	const stmts: D1PreparedStatement[] = [];
	for (const r of rows.results) {
		const plain = await openPii(ring, r.site, r.customer_id, r);
		const sealed = await sealPii(ring, r.site, r.customer_id, plain.email, plain.name);
		stmts.push(
			db
				.prepare("UPDATE customer_pii SET email = ?, name = ?, email_hash = ?, kid = ? WHERE site = ? AND customer_id = ? AND kid IS ? RETURNING 1")
				.bind(sealed.email, sealed.name, sealed.email_hash, sealed.kid, r.site, r.customer_id, r.kid),
		);
	}
	const results = stmts.length ? await db.batch(stmts) : [];
	const rotated = results.reduce((n, res) => n + res.results.length, 0);
	const left = await db.prepare("SELECT COUNT(*) AS n FROM customer_pii WHERE kid IS NULL OR kid <> ?").bind(kid).first<{ n: number }>();
	return { kid, rotated, remaining: left?.n ?? 0 };
}
