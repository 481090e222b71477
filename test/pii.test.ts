/**
 * PII at rest (issue 14, item 11): customer_pii email and name are AES-256-GCM ciphertexts under PII_KEY,
 * looked up by a keyed hash; no key means no PII; rows record their key id, PII_KEY_PREVIOUS is read
 * while POST /api/v1/privacy/pii/rotate re-encrypts; the audit log names customers by a keyed hash.
 *
 * Known answers come from an independent implementation: Node's crypto (OpenSSL) — HKDF-SHA256 with a
 * zero salt, HMAC-SHA256, AES-256-GCM — over the development key in wrangler.toml (see the script in
 * the comment of KAT below).
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createKey } from "../workers/auth/keys";
import { applyWrites, toStatements } from "../workers/commerce/store";
import { listCustomers, readProfile } from "../workers/customers/read";
import { decryptField, DEV_PII_KID, emailHash, encryptField, openPii, piiKeyring, sealPiiWrites } from "../workers/privacy/pii";
import { rotatePii } from "../workers/privacy/rotate";
import { api, waitFor } from "./helpers";

/**
 * node -e 'const c=require("crypto");const k=Buffer.from(DEV_KEY,"base64");const s=i=>c.hkdfSync("sha256",k,Buffer.alloc(32),i,32);…'
 * kid = sha256(key)[:16 hex]; hash = HMAC(HKDF(key,"b2g pii lookup v1"), "ana@example.com");
 * ct = base64url(iv ‖ AES-GCM(HKDF(key,"b2g pii aes-gcm v1"), iv, aad = ["demo","c-kat","email"])) with
 * iv = HMAC(HKDF(key,"b2g pii nonce v1"), aad ‖ 0x00 ‖ plaintext)[:12].
 */
const KAT = {
	kid: "fa27cfb659cf4362",
	hash: "d7c8d3fbda1c3e9af43b4662e60309a435ac1a57110001ff9fa1a27066e0d402",
	ct: "A3XCTB0f6tFH67HSKFH-MXdSeDLldNdGN0zueBoP5mliLwe4VRhgb84s-A",
};
/** A second key for the rotation tests (openssl rand -base64 32); its kid is sha256 of it, first 16 hex digits. */
const NEW_KEY = "O37/EMvWMMnMldU1QgrutuJUQtI5dJmy1PrFXHSzCvg=";
const NEW_KID = "92a24cd0cca2f715";
const SITE = "pii";

const put = async (entity: string, body: unknown) => {
	const res = await api("PUT", `/api/v1/${entity}?site=${SITE}`, body);
	expect(res.status, await res.clone().text()).toBe(200);
	return (await res.json()) as { rows_changed: number };
};
const piiRow = (id: string) =>
	env.DB.prepare("SELECT email, name, email_hash AS emailHash, kid FROM customer_pii WHERE site = ? AND customer_id = ?").bind(SITE, id).first<{ email: string | null; name: string | null; emailHash: string | null; kid: string | null }>();

beforeAll(async () => {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, ?, '[]', 'UTC', 'EUR', 0) ON CONFLICT DO NOTHING").bind(SITE, SITE).run();
});

describe("the PII cipher", () => {
	it("matches Node's crypto on the key id, the look-up hash and the ciphertext (known answers)", async () => {
		const ring = await piiKeyring(env);
		expect(ring.current.kid).toBe(KAT.kid);
		expect(DEV_PII_KID).toBe(KAT.kid);
		expect(await emailHash(ring.current, "  Ana@Example.COM ")).toBe(KAT.hash); // normalised: trimmed, lower-cased
		expect(await encryptField(ring.current, "demo", "c-kat", "email", "ana@example.com")).toBe(KAT.ct);
		expect(await decryptField(ring.current, "demo", "c-kat", "email", KAT.ct)).toBe("ana@example.com");
	});

	it("binds a ciphertext to its row and field: copied to another customer or column, it does not decrypt", async () => {
		const ring = await piiKeyring(env);
		await expect(decryptField(ring.current, "demo", "c-other", "email", KAT.ct)).rejects.toThrow();
		await expect(decryptField(ring.current, "demo", "c-kat", "name", KAT.ct)).rejects.toThrow();
		await expect(decryptField(ring.current, "other-site", "c-kat", "email", KAT.ct)).rejects.toThrow();
	});

	it("refuses to run without a key, or with a malformed one — never plaintext", async () => {
		const write = { kind: "upsert" as const, table: "customer_pii", key: ["customer_id"], values: { site: SITE, customer_id: "x", email: "x@example.com", name: null, updated_at: 1 } };
		await expect(sealPiiWrites([write], {})).rejects.toThrow(/PII_KEY is not set/);
		await expect(sealPiiWrites([write], { PII_KEY: "c2hvcnQ=" })).rejects.toThrow(/32 random bytes/);
		// A write path that skipped the sealing is refused before any SQL.
		expect(() => toStatements(env.DB, [write])).toThrow(/must be sealed/);
		expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM customer_pii WHERE customer_id = 'x'").first()).toEqual({ n: 0 });
	});
});

describe("customer_pii at rest", () => {
	it("stores ciphertext, the keyed hash and the key id; the API shows the plaintext to admins", async () => {
		await put("customers", { customer_id: "p1", created_at: "2026-10-01", email: "Ana@Example.com", name: "Ana Pérez" });
		const row = await piiRow("p1");
		const ring = await piiKeyring(env);
		expect(row?.kid).toBe(KAT.kid);
		expect(row?.email).not.toContain("@");
		expect(row?.name).not.toContain("Ana");
		expect(row?.emailHash).toBe(KAT.hash); // the hash of the normalised email
		expect(await openPii(ring, SITE, "p1", row ?? { email: null, name: null, kid: null })).toEqual({ email: "Ana@Example.com", name: "Ana Pérez" });
		const res = await api("GET", `/api/v1/customers/p1?site=${SITE}`);
		expect(((await res.json()) as { customer: unknown }).customer).toMatchObject({ email: "Ana@Example.com", name: "Ana Pérez" });
	});

	it("keeps upserts idempotent: the same record again changes nothing (the nonce is synthetic)", async () => {
		const before = await piiRow("p1");
		expect((await put("customers", { customer_id: "p1", created_at: "2026-10-01", email: "Ana@Example.com", name: "Ana Pérez" })).rows_changed).toBe(0);
		expect(await piiRow("p1")).toEqual(before);
		// A correction re-encrypts: a different ciphertext and hash.
		expect((await put("customers", { customer_id: "p1", created_at: "2026-10-01", email: "ana.perez@example.com", name: "Ana Pérez" })).rows_changed).toBe(1);
		const after = await piiRow("p1");
		expect(after?.email).not.toBe(before?.email);
		expect(after?.name).toBe(before?.name);
		expect(after?.emailHash).not.toBe(before?.emailHash);
	});

	it("finds a customer by their whole email in any case (not by a part of it)", async () => {
		await put("customers", [
			{ customer_id: "p2", created_at: "2026-10-01", email: "bob@shop.test", name: "Bob" },
			{ customer_id: "p3", created_at: "2026-10-01", name: "No Email" },
		]);
		const ids = async (q: string) => ((await (await api("GET", `/api/v1/customers?site=${SITE}&q=${encodeURIComponent(q)}`)).json()) as { customers: { id: string }[] }).customers.map((c) => c.id);
		expect(await ids("BOB@shop.test")).toEqual(["p2"]);
		expect(await ids(" ana.perez@EXAMPLE.com ")).toEqual(["p1"]);
		expect(await ids("shop.test")).toEqual([]);
		expect(await ids("p")).toEqual(["p1", "p2", "p3"]); // ids still match by substring
	});

	it("the bulk import encrypts too", async () => {
		const csv = "customer_id,created_at,email,name\np-imp,2026-10-02,imp@example.com,Imported Person\n";
		const res = await api("POST", `/api/v1/import/customers?site=${SITE}&format=csv`, csv);
		expect(res.status, await res.clone().text()).toBe(202);
		const row = await waitFor(async () => (await piiRow("p-imp")) ?? undefined);
		expect(row.kid).toBe(KAT.kid);
		expect(row.email).not.toContain("@");
		const ring = await piiKeyring(env);
		expect(await openPii(ring, SITE, "p-imp", row)).toEqual({ email: "imp@example.com", name: "Imported Person" });
	});
});

describe("key rotation", () => {
	it("reads rows under PII_KEY_PREVIOUS and legacy plaintext rows, re-encrypts them all, and rotates back", async () => {
		// A row from before migration 0019: plaintext, no kid.
		await env.DB.prepare("INSERT INTO customer_pii (site, customer_id, email, name, updated_at) VALUES (?, 'p-legacy', 'Legacy@Example.com', 'Old Row', 1)").bind(SITE).run();
		await env.DB.prepare("INSERT INTO customers (site, customer_id, created_at, updated_at) VALUES (?, 'p-legacy', 1, 1)").bind(SITE).run();
		const devRing = await piiKeyring(env);
		expect((await readProfile(env.DB, SITE, "p-legacy", devRing))?.pii).toEqual({ email: "Legacy@Example.com", name: "Old Row" });
		// Found by email before any rotation (plaintext fallback).
		const legacyFound = await listCustomers(env.DB, SITE, { sort: "revenue", q: "legacy@example.com", pii: devRing, limit: 10, after: null });
		expect(legacyFound.rows.map((r) => r.id)).toEqual(["p-legacy"]);

		const total = Number((await env.DB.prepare("SELECT COUNT(*) AS n FROM customer_pii").first<{ n: number }>())?.n);
		const rotated = { DB: env.DB, PII_KEY: NEW_KEY, PII_KEY_PREVIOUS: env.PII_KEY };
		// Bounded calls: 2 rows, then the rest.
		const first = await rotatePii(rotated, 2);
		expect(first).toEqual({ kid: NEW_KID, rotated: 2, remaining: total - 2 });
		const newRing = await piiKeyring(rotated);
		// Mid-rotation every row reads, under either key.
		for (const id of ["p1", "p2", "p-legacy"]) expect((await readProfile(env.DB, SITE, id, newRing))?.pii?.email).toMatch(/@/);
		const rest = await rotatePii(rotated, 500);
		expect(rest).toEqual({ kid: NEW_KID, rotated: total - 2, remaining: 0 });
		expect(await rotatePii(rotated, 500)).toEqual({ kid: NEW_KID, rotated: 0, remaining: 0 }); // idempotent
		expect((await env.DB.prepare("SELECT DISTINCT kid FROM customer_pii").all()).results).toEqual([{ kid: NEW_KID }]);

		// Without the previous key everything still reads now, and the email search uses the new hashes.
		const onlyNew = await piiKeyring({ PII_KEY: NEW_KEY });
		expect((await readProfile(env.DB, SITE, "p-legacy", onlyNew))?.pii).toEqual({ email: "Legacy@Example.com", name: "Old Row" });
		expect((await listCustomers(env.DB, SITE, { sort: "revenue", q: "BOB@shop.test", pii: onlyNew, limit: 10, after: null })).rows.map((r) => [r.id, r.email])).toEqual([["p2", "bob@shop.test"]]);
		// The old key alone cannot read them: a loud error, not a silent "no email".
		await expect(readProfile(env.DB, SITE, "p1", devRing)).rejects.toThrow(/neither PII_KEY nor PII_KEY_PREVIOUS/);

		// Back to the development key, through the endpoint this time (the Worker's env has the dev key; the rows are under NEW_KEY,
		// which the endpoint cannot read): so rotate back directly, then the endpoint reports nothing left.
		expect(await rotatePii({ DB: env.DB, PII_KEY: env.PII_KEY, PII_KEY_PREVIOUS: NEW_KEY }, 2000)).toEqual({ kid: KAT.kid, rotated: total, remaining: 0 });
		const res = await api("POST", "/api/v1/privacy/pii/rotate");
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({ kid: KAT.kid, rotated: 0, remaining: 0 });
	});

	it("the rotation endpoint is for account-wide admins only", async () => {
		const siteAdmin = await createKey(env.DB, { name: "site admin", scopes: ["admin"], site: SITE });
		expect((await api("POST", "/api/v1/privacy/pii/rotate", undefined, siteAdmin.secret)).status).toBe(403);
		const reader = await createKey(env.DB, { name: "reader", scopes: ["read"], site: null });
		expect((await api("POST", "/api/v1/privacy/pii/rotate", undefined, reader.secret)).status).toBe(403);
		expect((await api("POST", "/api/v1/privacy/pii/rotate?limit=0")).status).toBe(400);
	});

	it("applyWrites seals whatever path calls it", async () => {
		await applyWrites(env.DB, [{ kind: "upsert", table: "customer_pii", key: ["customer_id"], values: { site: SITE, customer_id: "p-direct", email: "direct@example.com", name: null, updated_at: 1 } }]);
		const row = await piiRow("p-direct");
		expect(row?.kid).toBe(KAT.kid);
		expect(row?.email).not.toContain("@");
		expect(row?.name).toBeNull();
	});
});

describe("the audit log", () => {
	it("names a customer by a keyed hash, never by id or searched email", async () => {
		await api("GET", `/api/v1/customers/p2?site=${SITE}`);
		await api("GET", `/api/v1/customers?site=${SITE}&q=${encodeURIComponent("bob@shop.test")}`);
		const rows = await waitFor(async () => {
			const r = await env.DB.prepare("SELECT path, query FROM audit_log WHERE site = ? AND path LIKE '/api/v1/customers%' ORDER BY id").bind(SITE).all<{ path: string; query: string | null }>();
			return r.results.some((x) => x.query?.includes("q=q-")) && r.results;
		});
		const text = JSON.stringify(rows);
		expect(text).not.toMatch(/\/customers\/p2\b/);
		expect(text.toLowerCase()).not.toContain("bob");
		expect(text).toMatch(/\/api\/v1\/customers\/cust-[0-9a-f]{24}/);
	});
});
