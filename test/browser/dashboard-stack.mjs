/**
 * The local stack for the dashboard's browser test: stack.mjs's `wrangler dev` (own port, own state dir)
 * plus what a dashboard needs: an ingest+read+admin key, a small deterministic demo store loaded through
 * the real bulk import API (scripts/seed.mjs), and dashboard users with one-time login links from the
 * users API (POST /api/v1/users, /users/{id}/login-link).
 * Not a test file itself; imported by dashboard.test.mjs.
 */
import { insertKeySql, newKey } from "../../scripts/lib/keys.mjs";
import { runWrangler } from "../../scripts/lib/wrangler.mjs";
import { seedStore } from "../../scripts/seed.mjs";
import { startStack } from "./stack.mjs";

/**
 * Sizes of the demo store: 14 months (so "same period last year" has data), a week of web events.
 * DASHBOARD_STORE=full loads `npm start`'s whole demo store instead (≈ 150,000 orders, ~2 min here), for
 * measuring LCP on it.
 */
export const FULL_STORE = process.env.DASHBOARD_STORE === "full";
// The small store ends at today's UTC midnight (--as-of), as `npm start`'s did before it seeded to the moment:
// whole days make the nightly models' figures the same all day (on this 500-customer store the churn
// model's promotion over its recency baseline depends on them; the predictive views need a promoted model).
export const STORE = FULL_STORE ? {} : { seed: 11, months: 14, customers: 500, orders: 3500, eventDays: 7, asOf: new Date().toISOString().slice(0, 10) };

/**
 * Starts the stack and loads the store. Returns stack.mjs's handle plus
 * `adminKey` (an account-wide key with ingest, read, admin), `api(method, path, body)` (calls with it),
 * `seed` (the store's `meta`, sizes, load time) and `loginLink(email, role)` (creates the user on first
 * use; a new one-time link every call).
 */
export async function startDashboardStack({ site = "demo", log = () => {}, extraArgs = [] } = {}) {
	const stack = await startStack({ site, extraArgs });
	// Written before anything else runs in the Worker: a write racing the Worker's own (rollups after an
	// import) can meet SQLITE_BUSY, so everything later goes through the API.
	const key = newKey();
	await runWrangler(
		["d1", "execute", "DB", "--local", "--persist-to", stack.persistTo, "--config", "wrangler.toml", "--command", insertKeySql({ id: key.id, hash: key.hash, site: null, name: "dashboard test (admin)", scopes: ["ingest", "read", "admin"], now: Date.now() })],
		{ timeoutMs: 90_000 },
	);

	/** An /api/v1 call with the account-wide admin key (JSON in and out); throws on non-2xx. */
	async function api(method, path, body) {
		const res = await fetch(stack.base + path, {
			method,
			headers: { Authorization: `Bearer ${key.secret}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
			body: body === undefined ? undefined : JSON.stringify(body),
			signal: AbortSignal.timeout(60_000),
		});
		const text = await res.text();
		if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text.slice(0, 500)}`);
		return JSON.parse(text);
	}

	const t0 = performance.now();
	const seed = await seedStore({ url: stack.base, key: key.secret, site, ...STORE, log });
	const seedMs = performance.now() - t0;

	const users = new Map();
	/** A new one-time login link for `email` (created with `role` on first use) from the users API. */
	async function loginLink(email, role) {
		const id = users.get(email);
		if (id) return (await api("POST", `/api/v1/users/${id}/login-link`)).login_url;
		const created = await api("POST", "/api/v1/users", { email, role });
		users.set(email, created.id);
		return created.login_url;
	}

	return { ...stack, adminKey: key.secret, seed: { meta: seed.store.meta, orders: seed.store.orders.length, events: seed.store.events.length, ms: seedMs }, loginLink, api };
}
