/**
 * The dashboard's only way to the Worker: same-origin `fetch` with the session cookie, JSON in and out.
 * The shapes below are the parts of /api/v1/openapi.json the dashboard reads (kept by hand: the
 * dashboard imports no Worker code).
 */
import { useEffect, useState } from "preact/hooks";

export type Role = "admin" | "executive" | "analyst" | "operations";
export type Grain = "day" | "week" | "month" | "quarter";
export type Compare = "previous" | "yoy";

export interface Me {
	kind: "user" | "key";
	id: string;
	email?: string;
	name?: string;
	role?: Role;
	scopes: string[];
	can_see_pii: boolean;
}

export interface Site {
	id: string;
	name: string;
	timezone: string;
	currency: string;
}

export interface CatalogKpi {
	id: string;
	name: string;
	area: string;
	description: string;
	formula: string;
	unit: string;
	good: "up" | "down";
	breakdowns: string[];
	roles: Role[];
}

/** KPI answers: the Worker's own types (type-only import, erased from the bundle). */
export type { Point as KpiPoint, SeriesPoint as KpiSeriesPoint, KpiResult, KpiResponse } from "../../workers/metrics/types";

export interface Alert {
	id: string;
	rule_id: string;
	rule_name: string;
	metric: string;
	severity: "info" | "warning" | "critical";
	key: string;
	label: string | null;
	state: "firing" | "resolved";
	value: number | null;
	baseline: number | null;
	limit: number | null;
	period: string;
	started_at: number;
}

export interface FunnelStep {
	event: string;
	label: string;
	users: number;
	conversion_pct: number | null;
	conversion_from_start_pct: number | null;
	drop_off: number;
	drop_off_pct: number | null;
	median_seconds_from_previous: number | null;
}
export interface FunnelReport {
	funnel: { id: string; name: string };
	from: string;
	to: string;
	users: number;
	conversion_pct: number | null;
	steps: FunnelStep[];
}

/** The live snapshot: the Worker's own type (type-only import, erased from the bundle). */
export type { LiveSnapshot, WindowStats as LiveWindow } from "../../workers/realtime/snapshot";

/** An answer other than 2xx, with the API's `{error, message}` when it sent one. */
export class HttpError extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message: string,
	) {
		super(message);
	}
}

/** Listeners told when any call answers 401 (the session ended): the shell shows the sign-in page. */
const unauthorized = new Set<() => void>();
export const onUnauthorized = (fn: () => void) => {
	unauthorized.add(fn);
	return () => unauthorized.delete(fn);
};

export function apiUrl(path: string, query: Record<string, string | undefined | null> = {}): string {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
	const s = q.toString();
	return `/api/v1${path}${s ? `?${s}` : ""}`;
}

/** GET a JSON API path; throws HttpError on a non-2xx answer. */
export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
	const res = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", signal });
	if (!res.ok) {
		let code = String(res.status);
		let message = res.statusText || `HTTP ${res.status}`;
		try {
			const body = (await res.json()) as { error?: string; message?: string };
			code = body.error ?? code;
			message = body.message ?? message;
		} catch {
			// not JSON: keep the status text
		}
		if (res.status === 401) for (const fn of unauthorized) fn();
		throw new HttpError(res.status, code, message);
	}
	return (await res.json()) as T;
}

export async function postJson<T>(url: string, body?: unknown): Promise<T> {
	const res = await fetch(url, {
		method: "POST",
		headers: { Accept: "application/json", ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
		body: body === undefined ? undefined : JSON.stringify(body),
		credentials: "same-origin",
	});
	if (!res.ok) throw new HttpError(res.status, String(res.status), res.statusText);
	return (await res.json()) as T;
}

export interface Loadable<T> {
	data: T | null;
	error: HttpError | Error | null;
	loading: boolean;
}

/** Loads `url` (null: nothing to load) and reloads whenever it changes; aborts the previous request. */
export function useJson<T>(url: string | null): Loadable<T> {
	const [state, setState] = useState<Loadable<T>>({ data: null, error: null, loading: url !== null });
	useEffect(() => {
		if (url === null) {
			setState({ data: null, error: null, loading: false });
			return;
		}
		const ctl = new AbortController();
		setState((s) => ({ data: s.data, error: null, loading: true }));
		getJson<T>(url, ctl.signal).then(
			(data) => setState({ data, error: null, loading: false }),
			(error: unknown) => {
				if (ctl.signal.aborted) return;
				setState({ data: null, error: error instanceof Error ? error : new Error(String(error)), loading: false });
			},
		);
		return () => ctl.abort();
	}, [url]);
	return state;
}
