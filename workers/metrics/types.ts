/**
 * The KPI API's answer types, without runtime code or Worker types, so the dashboard (web/app) can
 * import them as types and never drift from what the Worker sends.
 */
import type { Grain } from "./calendar";
import type { Dim } from "./catalog";

export type Compare = "previous" | "yoy";

export interface Point {
	value: number | null;
	compare?: number | null;
	delta?: number | null;
	delta_pct?: number | null;
	target?: number;
	progress?: number | null;
	/** Present (true) when the period is not over at `as_of`; complete periods omit it. */
	partial?: true;
	/** With `partial`: the fraction of the period elapsed at `as_of`, 0–1. */
	elapsed?: number;
	/** Why `value`, `compare` or `delta_pct` is null when the cause is known (no data, no like-for-like comparison). */
	reason?: string;
}

export interface SeriesPoint extends Point {
	period: string;
	from: string;
	to: string;
}

export interface KpiResult {
	id: string;
	name: string;
	unit: string;
	good: "up" | "down";
	total: Point;
	series: SeriesPoint[];
	groups?: { key: string; total: Point; series: SeriesPoint[] }[];
}

export interface KpiResponse {
	site: string;
	currency: string;
	timezone: string;
	from: string;
	to: string;
	grain: Grain;
	/** The instant (UTC ms) that decided which periods are over. */
	as_of: number;
	/** Present (true) when the range's last day is not over at `as_of`. */
	partial?: true;
	elapsed?: number;
	compare: Compare | null;
	compare_from: string | null;
	compare_to: string | null;
	/** When the range is not over: where the comparison range stops (UTC ms, exclusive) — the same elapsed time of its matching day. */
	compare_until: number | null;
	by: Dim | null;
	kpis: KpiResult[];
}
