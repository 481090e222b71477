/**
 * A typed client for TypeScript integrators, built on Hono's `hc`: paths, query parameters, JSON
 * bodies and JSON answers are checked against the Worker's own route declarations at compile time.
 * Only types come from the Worker (no bindings, nothing of it runs here):
 *
 *   const b2g = createClient("https://analytics.example", { key: process.env.B2G_KEY });
 *   const res = await b2g.api.v1.kpis.$get({ query: { site: "demo", ids: "revenue,orders", grain: "month" } });
 *   await b2g.api.v1.customers.$put({ query: { site: "demo" }, json: { customer_id: "c-1", created_at: "2026-11-20" } });
 */
import { hc } from "hono/client";
import type { AppType } from "./app";

export type { AppType };

export interface ClientOptions {
	/** An API key (`b2g_<id>_<secret>`), sent as `Authorization: Bearer`. */
	key?: string;
	/** The fetch to use (default: the global one); e.g. a service binding's, or one that adds retries. */
	fetch?: typeof fetch;
	/** More headers for every request. */
	headers?: Record<string, string>;
}

/** A client of the Brain2Gain API at `baseUrl` (the Worker's origin). */
export function createClient(baseUrl: string, options: ClientOptions = {}) {
	const headers = { ...options.headers, ...(options.key ? { Authorization: `Bearer ${options.key}` } : {}) };
	return hc<AppType>(baseUrl, { headers, ...(options.fetch ? { fetch: options.fetch } : {}) });
}

export type Client = ReturnType<typeof createClient>;
