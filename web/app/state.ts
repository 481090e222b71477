/**
 * The view's state lives in the URL (`?site=demo&from=2026-10-29&to=2026-11-27&grain=day&compare=previous`),
 * so a link shares exactly what is on screen. Days are the site's local days, as in the KPI API.
 */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { CatalogKpi, Compare, Grain, Me, Role, Site } from "./api";

export const GRAINS: { id: Grain; label: string }[] = [
	{ id: "day", label: "Daily" },
	{ id: "week", label: "Weekly" },
	{ id: "month", label: "Monthly" },
	{ id: "quarter", label: "Quarterly" },
];
export const COMPARES: { id: Compare | "none"; label: string }[] = [
	{ id: "previous", label: "Previous period" },
	{ id: "yoy", label: "Same period last year" },
	{ id: "none", label: "No comparison" },
];

export interface View {
	site: string;
	from: string;
	to: string;
	grain: Grain;
	compare: Compare | null;
}

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
const isDay = (s: string | undefined): s is string => !!s && DAY_RE.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`));

/** Today in `timezone`, YYYY-MM-DD. */
export function today(timezone: string, now = Date.now()): string {
	// en-CA formats dates as YYYY-MM-DD.
	return new Intl.DateTimeFormat("en-CA", { timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
}

export function addDays(day: string, n: number): string {
	return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

export function daysBetween(from: string, to: string): number {
	return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** Date-range presets, relative to the site's today. */
export const PRESETS: { id: string; label: string; range: (t: string) => [string, string] }[] = [
	{ id: "7d", label: "Last 7 days", range: (t) => [addDays(t, -6), t] },
	{ id: "30d", label: "Last 30 days", range: (t) => [addDays(t, -29), t] },
	{ id: "90d", label: "Last 90 days", range: (t) => [addDays(t, -89), t] },
	{ id: "mtd", label: "Month to date", range: (t) => [`${t.slice(0, 8)}01`, t] },
	{ id: "qtd", label: "Quarter to date", range: (t) => [`${t.slice(0, 5)}${String(Math.floor((Number(t.slice(5, 7)) - 1) / 3) * 3 + 1).padStart(2, "0")}-01`, t] },
	{ id: "ytd", label: "Year to date", range: (t) => [`${t.slice(0, 4)}-01-01`, t] },
	{ id: "12m", label: "Last 12 months", range: (t) => [addDays(t, -364), t] },
];

export function presetOf(view: View, t: string): string {
	return PRESETS.find((p) => {
		const [f, to] = p.range(t);
		return f === view.from && to === view.to;
	})?.id ?? "custom";
}

/** The view named by a query string, with defaults (last 30 days, daily, vs previous period) for what is missing or malformed. */
export function viewFromQuery(query: Record<string, string>, sites: Site[]): View {
	const site = sites.find((s) => s.id === query.site) ?? sites[0];
	const t = today(site?.timezone ?? "UTC");
	let from = isDay(query.from) ? query.from : addDays(t, -29);
	let to = isDay(query.to) ? query.to : t;
	if (from > to) [from, to] = [to, from];
	const grain = GRAINS.some((g) => g.id === query.grain) ? (query.grain as Grain) : "day";
	const compare = query.compare === "none" ? null : query.compare === "yoy" ? "yoy" : "previous";
	return { site: site?.id ?? "", from, to, grain, compare };
}

export function viewQuery(v: View): string {
	return new URLSearchParams({ site: v.site, from: v.from, to: v.to, grain: v.grain, compare: v.compare ?? "none" }).toString();
}

/** The query parameters every page shares (the view); a page may hold more of its own (search, sort, filter). */
export const VIEW_KEYS: readonly string[] = ["site", "from", "to", "grain", "compare"];

/** A page's own parameters of `query` (everything but the view's), in their order. */
export function pageParams(query: Record<string, string>): Record<string, string> {
	return Object.fromEntries(Object.entries(query).filter(([k, v]) => !VIEW_KEYS.includes(k) && v !== ""));
}

/** `path?view` followed by the page's own parameters. */
export function pageUrl(path: string, v: View, params: Record<string, string> = {}): string {
	const extra = new URLSearchParams(params).toString();
	return `${path}?${viewQuery(v)}${extra ? `&${extra}` : ""}`;
}

/** The view's last `max` days when it is longer (APIs that take at most `max` days: customers 366, products 731). */
export function clipRange(v: View, max: number): { from: string; to: string; clipped: boolean } {
	const from = daysBetween(v.from, v.to) >= max ? addDays(v.to, -(max - 1)) : v.from;
	return { from, to: v.to, clipped: from !== v.from };
}

/** Query parameters for /api/v1/kpis of this view. */
export function kpiQuery(v: View, ids: string[], extra: Record<string, string> = {}): Record<string, string> {
	return { site: v.site, ids: ids.join(","), from: v.from, to: v.to, grain: v.grain, ...(v.compare ? { compare: v.compare } : {}), ...extra };
}

export interface App {
	me: Me;
	role: Role;
	sites: Site[];
	site: Site;
	view: View;
	/** KPIs this role may see, by id (GET /api/v1/kpis/catalog is filtered to the caller's role). */
	catalog: Map<string, CatalogKpi>;
	setView(patch: Partial<View>): void;
	/** The page's own URL parameters (not the view's): search, sort, filter. */
	params: Record<string, string>;
	/** Changes the page's own parameters (null or "" removes one), keeping the view; `replace` for typing. */
	setParams(patch: Record<string, string | null>, replace?: boolean): void;
}

export const AppContext = createContext<App | null>(null);

export function useApp(): App {
	const app = useContext(AppContext);
	if (!app) throw new Error("useApp outside <AppContext.Provider>");
	return app;
}

const EVERYONE: Role[] = ["admin", "executive", "analyst", "operations"];

/** Pages and the roles that see them in the navigation (and may open them, with their sub-pages: /customers/<id>). */
export const PAGES: { path: string; label: string; roles: Role[] }[] = [
	{ path: "/", label: "Executive", roles: ["admin", "executive", "analyst"] },
	{ path: "/operations", label: "Operations", roles: EVERYONE },
	{ path: "/customers", label: "Customers", roles: EVERYONE },
	{ path: "/products", label: "Products", roles: EVERYONE },
	{ path: "/cohorts", label: "Cohorts", roles: ["admin", "executive", "analyst"] },
	{ path: "/basket", label: "Basket", roles: EVERYONE },
	{ path: "/models", label: "Models", roles: ["admin", "analyst"] },
	{ path: "/reports", label: "Reports", roles: ["admin", "executive"] },
];

/** The page a path belongs to: its own (/customers) or its parent's (/customers/C1 → /customers). */
export function pageOf(path: string): (typeof PAGES)[number] | undefined {
	return PAGES.find((p) => p.path === path) ?? PAGES.find((p) => p.path !== "/" && path.startsWith(`${p.path}/`) && path.length > p.path.length + 1);
}
