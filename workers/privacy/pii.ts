/**
 * Personal data at rest: `customer_pii.email` and `.name` are AES-256-GCM ciphertexts under a key from
 * the Worker secret `PII_KEY` (base64 of 32 bytes), `email_hash` is an HMAC-SHA256 of the normalised
 * email for look-ups, and `kid` names the key a row was written with. `PII_KEY_PREVIOUS` (optional) is
 * accepted for reading while `POST /api/v1/privacy/pii/rotate` re-encrypts rows under the current key.
 *
 * Three keys are derived from the secret with HKDF-SHA256 (one secret to manage, no key reused for two
 * purposes): the AES-GCM key, an HMAC key for the look-up hash, and an HMAC key for the nonce.
 *
 * The nonce is synthetic: HMAC(nonce key, site ‖ customer ‖ field ‖ plaintext), 96 bits. The same
 * plaintext of the same row therefore encrypts to the same ciphertext, which keeps the commerce upserts'
 * "a repeat changes nothing" rule (`… WHERE row differs`) and makes retries idempotent; two different
 * plaintexts get different nonces (a collision needs ~2^48 values of one row and field), so GCM's nonce
 * rule holds. What it reveals — that a row's value did not change — the look-up hash reveals anyway.
 * The row's (site, customer, field) is the additional data, so a ciphertext copied to another row or
 * column fails to decrypt instead of showing someone else's email.
 *
 * No key means no PII: a missing or malformed PII_KEY fails the request (500, logged) — never plaintext.
 */
import { env as workerEnv } from "cloudflare:workers";
import { ApiError } from "../lib/http";
import type { Write } from "../commerce/entities";

declare global {
	interface Env {
		/** The key PII was encrypted with before the last rotation (a Worker secret; optional). */
		PII_KEY_PREVIOUS?: string;
	}
	namespace Cloudflare {
		interface Env {
			PII_KEY_PREVIOUS?: string;
		}
	}
}

export interface PiiKey {
	/** First 16 hex digits of SHA-256 of the raw key: names the key in each row without revealing it. */
	kid: string;
	enc: CryptoKey;
	lookup: CryptoKey;
	nonce: CryptoKey;
}

export interface PiiKeyring {
	current: PiiKey;
	previous: PiiKey | null;
}

/** The development key in wrangler.toml [vars]; a deployment overrides it with `wrangler secret put PII_KEY`. */
export const DEV_PII_KID = "fa27cfb659cf4362";

const te = new TextEncoder();
const td = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

function fromBase64(text: string): Uint8Array | null {
	try {
		const bin = atob(text.trim().replace(/-/g, "+").replace(/_/g, "/"));
		return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
	} catch {
		return null;
	}
}

function toBase64Url(bytes: Uint8Array): string {
	let bin = "";
	for (const b of bytes) bin += String.fromCharCode(b);
	return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const hex = (bytes: ArrayBuffer | Uint8Array) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

async function deriveKey(secret: string, name: string): Promise<PiiKey> {
	const raw = fromBase64(secret);
	if (!raw || raw.length !== 32) throw new Error(`${name} must be the base64 of 32 random bytes (openssl rand -base64 32)`);
	const base = await crypto.subtle.importKey("raw", raw, "HKDF", false, ["deriveKey"]);
	const hkdf = (info: string) => ({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: te.encode(info) });
	const hmac = { name: "HMAC", hash: "SHA-256", length: 256 };
	const [enc, lookup, nonce, digest] = await Promise.all([
		crypto.subtle.deriveKey(hkdf("b2g pii aes-gcm v1"), base, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]),
		crypto.subtle.deriveKey(hkdf("b2g pii lookup v1"), base, hmac, false, ["sign"]),
		crypto.subtle.deriveKey(hkdf("b2g pii nonce v1"), base, hmac, false, ["sign"]),
		crypto.subtle.digest("SHA-256", raw),
	]);
	return { kid: hex(digest).slice(0, 16), enc, lookup, nonce };
}

let cached: { current: string; previous: string; ring: Promise<PiiKeyring> } | null = null;

/** The keyring of an environment (cached per isolate while the secrets are unchanged). Throws when PII_KEY is missing or malformed. */
export function piiKeyring(env: { PII_KEY?: string; PII_KEY_PREVIOUS?: string } = workerEnv): Promise<PiiKeyring> {
	const current = env.PII_KEY ?? "";
	const previous = env.PII_KEY_PREVIOUS ?? "";
	if (cached && cached.current === current && cached.previous === previous) return cached.ring;
	const ring = (async () => {
		if (!current) throw new Error("PII_KEY is not set: personal data is never stored or read in plaintext (wrangler secret put PII_KEY)");
		const cur = await deriveKey(current, "PII_KEY");
		const prev = previous ? await deriveKey(previous, "PII_KEY_PREVIOUS") : null;
		return { current: cur, previous: prev && prev.kid !== cur.kid ? prev : null };
	})();
	cached = { current, previous, ring };
	ring.catch(() => {
		if (cached?.ring === ring) cached = null;
	});
	return ring;
}

/** An email as looked up: trimmed and lower-cased (the whole address; providers' dot and plus rules are not applied). */
export const normaliseEmail = (email: string) => email.trim().toLowerCase();

async function hmacHex(key: CryptoKey, text: string): Promise<string> {
	return hex(await crypto.subtle.sign("HMAC", key, te.encode(text)));
}

/** The look-up hash of an email under one key: hex HMAC-SHA256 of the normalised address. */
export const emailHash = (key: PiiKey, email: string) => hmacHex(key.lookup, normaliseEmail(email));

/** The look-up hashes of an email under every key a row may have been written with (current first). */
export async function emailHashes(ring: PiiKeyring, email: string): Promise<string[]> {
	return Promise.all([ring.current, ...(ring.previous ? [ring.previous] : [])].map((k) => emailHash(k, email)));
}

/** A keyed, non-reversible stand-in for an identifier (audit rows, erased customers): `<prefix><24 hex>`. */
export async function pseudonym(ring: PiiKeyring, purpose: string, value: string, prefix = ""): Promise<string> {
	return `${prefix}${(await hmacHex(ring.current.lookup, `${purpose}\u0000${value}`)).slice(0, 24)}`;
}

/** A customer's keyed hash (24 hex digits of HMAC over site and id): the stable stand-in for them where their id must not appear. */
export const customerHash = (ring: PiiKeyring, site: string, id: string) => pseudonym(ring, "customer", `${site}\u0000${id}`);

/** How the audit log names a customer: `cust-<customerHash>` (whoever holds PII_KEY can check whether a row is about a given id). */
export const auditAlias = async (ring: PiiKeyring, site: string, id: string) => `cust-${await customerHash(ring, site, id)}`;

const CUSTOMER_PATH = /^(\/api\/v1\/customers\/)([^/]+)(\/export)?\/?$/;

/**
 * An audit row's path and query without customer identifiers: `/api/v1/customers/<id>[/export]` names the
 * customer by auditAlias, and the customer list's `q` (an id or an email) by a keyed hash. Other paths pass.
 * Without a usable PII_KEY the identifier is replaced by `cust-redacted` (an audit row is never dropped).
 */
export async function redactAuditTarget(site: string | null, path: string, query: string | null): Promise<{ path: string; query: string | null }> {
	const m = CUSTOMER_PATH.exec(path);
	const listed = path.replace(/\/$/, "") === "/api/v1/customers" && query !== null && /(^|&)q=/.test(query);
	if ((!m || m[2] === "overview") && !listed) return { path, query };
	let ring: PiiKeyring | null = null;
	try {
		ring = await piiKeyring();
	} catch {
		ring = null;
	}
	const alias = async (id: string) => (ring ? auditAlias(ring, site ?? "", id) : "cust-redacted");
	let outPath = path;
	if (m && m[2] !== "overview") {
		let id = m[2] ?? "";
		try {
			id = decodeURIComponent(id);
		} catch {
			// A malformed escape is hashed as sent.
		}
		outPath = `${m[1]}${await alias(id)}${m[3] ?? ""}`;
	}
	let outQuery = query;
	if (listed && query !== null) {
		const params = new URLSearchParams(query);
		const q = params.get("q") ?? "";
		params.set("q", ring ? `q-${(await pseudonym(ring, "audit query", `${site ?? ""}\u0000${q.trim().toLowerCase()}`)).slice(0, 16)}` : "redacted");
		outQuery = params.toString();
	}
	return { path: outPath, query: outQuery };
}

type Field = "email" | "name";
const aad = (site: string, customer: string, field: Field) => te.encode(JSON.stringify([site, customer, field]));

/** base64url(nonce ‖ ciphertext ‖ tag) of one value of one row. */
export async function encryptField(key: PiiKey, site: string, customer: string, field: Field, plaintext: string): Promise<string> {
	const data = aad(site, customer, field);
	const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key.nonce, new Uint8Array([...data, 0, ...te.encode(plaintext)])));
	const iv = mac.slice(0, 12);
	const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: data }, key.enc, te.encode(plaintext)));
	const out = new Uint8Array(iv.length + ct.length);
	out.set(iv);
	out.set(ct, iv.length);
	return toBase64Url(out);
}

/** The plaintext of a stored value; throws when it was not written under `key` for this row and field. */
export async function decryptField(key: PiiKey, site: string, customer: string, field: Field, stored: string): Promise<string> {
	const bytes = fromBase64(stored);
	if (!bytes || bytes.length < 12 + 16) throw new Error("not a PII ciphertext");
	const pt = await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes.slice(0, 12), additionalData: aad(site, customer, field) }, key.enc, bytes.slice(12));
	return td.decode(pt);
}

/** A stored customer_pii row as read from D1 (ciphertexts, or plaintext when `kid` is null: rows from before migration 0019). */
export interface StoredPii {
	email: string | null;
	name: string | null;
	kid: string | null;
}

/**
 * The plaintext of a stored row. A row without `kid` predates encryption and is plaintext (the rotation
 * job encrypts it). A row under an unknown key fails loudly: it means PII_KEY_PREVIOUS was dropped before
 * the rotation finished, and showing nothing would look like "no email on file".
 */
export async function openPii(ring: PiiKeyring, site: string, customer: string, row: StoredPii): Promise<{ email: string | null; name: string | null }> {
	if (row.kid === null) return { email: row.email, name: row.name };
	const key = row.kid === ring.current.kid ? ring.current : row.kid === ring.previous?.kid ? ring.previous : null;
	if (!key) throw new ApiError(500, "pii_key_missing", `personal data of this customer is encrypted under key ${row.kid}, which is neither PII_KEY nor PII_KEY_PREVIOUS`);
	return {
		email: row.email === null ? null : await decryptField(key, site, customer, "email", row.email),
		name: row.name === null ? null : await decryptField(key, site, customer, "name", row.name),
	};
}

/** The stored columns of one customer's PII under the current key. */
export async function sealPii(ring: PiiKeyring, site: string, customer: string, email: string | null, name: string | null): Promise<{ email: string | null; name: string | null; email_hash: string | null; kid: string }> {
	const key = ring.current;
	return {
		email: email === null ? null : await encryptField(key, site, customer, "email", email),
		name: name === null ? null : await encryptField(key, site, customer, "name", name),
		email_hash: email === null ? null : await emailHash(key, email),
		kid: key.kid,
	};
}

/** Whether a write is a customer_pii upsert that still carries plaintext (commerce/store.ts refuses those). */
export const isUnsealedPiiWrite = (w: Write) => w.kind === "upsert" && w.table === "customer_pii" && typeof w.values.kid !== "string";

/**
 * Encrypts the customer_pii upserts among commerce writes (commerce/entities.ts emits plaintext; every
 * write path goes through commerce/store.ts applyWrites, which calls this). Other writes pass unchanged.
 */
export async function sealPiiWrites(writes: Write[], env: { PII_KEY?: string; PII_KEY_PREVIOUS?: string } = workerEnv): Promise<Write[]> {
	if (!writes.some(isUnsealedPiiWrite)) return writes;
	const ring = await piiKeyring(env);
	return Promise.all(
		writes.map(async (w) => {
			if (!isUnsealedPiiWrite(w) || w.kind !== "upsert") return w;
			const v = w.values;
			const site = String(v.site);
			const customer = String(v.customer_id);
			const sealed = await sealPii(ring, site, customer, typeof v.email === "string" ? v.email : null, typeof v.name === "string" ? v.name : null);
			return { ...w, values: { ...v, ...sealed } };
		}),
	);
}
