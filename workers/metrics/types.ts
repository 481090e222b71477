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
	compare: Compare | null;
	compare_from: string | null;
	compare_to: string | null;
	by: Dim | null;
	kpis: KpiResult[];
}
