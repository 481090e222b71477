/**
 * API keys made on the command line, in the exact format the Worker checks (workers/auth/keys.ts):
 * `b2g_<12 hex id>_<43 base64url chars>`, stored as the SHA-256 hex of the whole key.
 */
import { createHash, randomBytes } from "node:crypto";

export const SCOPES = ["ingest", "read", "admin"];
const SITE_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** A new random key: `{ id, secret, hash }`. */
export function newKey() {
	const id = randomBytes(6).toString("hex");
	const secret = `b2g_${id}_${randomBytes(32).toString("base64url")}`;
	return { id, secret, hash: createHash("sha256").update(secret).digest("hex") };
}

const quote = (s) => `'${String(s).replace(/'/g, "''")}'`;

/**
 * SQL that stores a key (for `wrangler d1 execute --command`, which takes no bound parameters;
 * every value is validated or quoted here).
 * @param {{ id: string, hash: string, site?: string | null, name: string, scopes: string[], now?: number }} key
 */
export function insertKeySql({ id, hash, site = null, name, scopes, now = Date.now() }) {
	if (!/^[0-9a-f]{12}$/.test(id) || !/^[0-9a-f]{64}$/.test(hash)) throw new Error("malformed key id or hash");
	if (site !== null && !SITE_ID.test(site)) throw new Error(`site '${site}' is not a valid site id`);
	const bad = scopes.filter((s) => !SCOPES.includes(s));
	if (!scopes.length || bad.length) throw new Error(`scopes must be a comma list of ${SCOPES.join(", ")}${bad.length ? ` (not: ${bad.join(", ")})` : ""}`);
	return `INSERT INTO api_keys (id, site, name, secret_hash, scopes, created_at) VALUES (${quote(id)}, ${site === null ? "NULL" : quote(site)}, ${quote(name)}, ${quote(hash)}, ${quote(JSON.stringify([...new Set(scopes)]))}, ${Number(now)})`;
}

/** SQL that revokes every live key with this name (e.g. the status-page key of an earlier `npm start`). */
export function revokeByNameSql(name, now = Date.now()) {
	return `UPDATE api_keys SET revoked_at = ${Number(now)} WHERE name = ${quote(name)} AND revoked_at IS NULL`;
}
