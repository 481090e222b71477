/**
 * Numbers as the reader's locale writes them (LOCALE: the first of the browser's languages that Intl
 * accepts, else "en"), money in the site's currency. KPI values arrive in the units of the catalogue:
 * `currency` in major units, `percent` as 0–100, counts, scores, hours, months.
 */
import { LOCALE } from "./locale";

const cache = new Map<string, Intl.NumberFormat>();
function nf(key: string, options: Intl.NumberFormatOptions): Intl.NumberFormat {
	let f = cache.get(key);
	if (!f) {
		f = new Intl.NumberFormat(LOCALE, options);
		cache.set(key, f);
	}
	return f;
}

/** Minor units per major unit of a currency (100 for EUR, 1 for JPY). */
export function minorPerMajor(currency: string): number {
	const digits = nf(`c:${currency}`, { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
	return 10 ** digits;
}

/** Money; `compact` (chart axes): "€1.2K" from 1,000, whole units from 10. */
export function money(value: number, currency: string, compact = false): string {
	if (compact && Math.abs(value) >= 1000) return nf(`cc:${currency}`, { style: "currency", currency, notation: "compact", maximumFractionDigits: 1 }).format(value);
	if (compact && Math.abs(value) >= 10) return nf(`c0:${currency}`, { style: "currency", currency, maximumFractionDigits: 0, minimumFractionDigits: 0 }).format(value);
	return nf(`c:${currency}`, { style: "currency", currency }).format(value);
}

/** A minor-unit amount (the live counters) in the currency. */
export const moneyMinor = (minor: number, currency: string) => money(minor / minorPerMajor(currency), currency);

export function count(value: number, compact = false): string {
	if (compact && Math.abs(value) >= 10_000) return nf("nc", { notation: "compact", maximumFractionDigits: 1 }).format(value);
	return nf("n0", { maximumFractionDigits: 0 }).format(value);
}

const percentFmt = () => nf("p1", { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
/** 0–100 → "12.3 %" as the locale writes it. */
export const percent = (value: number) => percentFmt().format(value / 100);

/** A plain number with exactly `digits` decimals, as the locale writes it. */
export const decimal = (value: number, digits: number) => nf(`d${digits}`, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);

/** A KPI value in its catalogue unit; "–" when undefined for the period. */
export function formatValue(value: number | null | undefined, unit: string, currency: string, compact = false): string {
	if (value === null || value === undefined || !Number.isFinite(value)) return "–";
	switch (unit) {
		case "currency":
			return money(value, currency, compact);
		case "percent":
			return percent(value);
		case "count":
			return count(value, compact);
		case "hours":
			return `${decimal(value, 1)} h`;
		case "months":
			return `${decimal(value, 1)} mo`;
		case "score":
			return decimal(value, 2);
		default:
			return `${decimal(value, 2)}${unit ? ` ${unit}` : ""}`;
	}
}

/** A change in percent, signed: "+4.2 %", "−1.0 %". */
export function signedPercent(value: number): string {
	return nf("sp", { style: "percent", signDisplay: "exceptZero", minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(value / 100);
}

export function dateTime(ms: number, timezone: string): string {
	return new Intl.DateTimeFormat(LOCALE, { timeZone: timezone, dateStyle: "medium", timeStyle: "short" }).format(ms);
}

export function timeOfDay(ms: number, timezone: string): string {
	return new Intl.DateTimeFormat(LOCALE, { timeZone: timezone, hour: "2-digit", minute: "2-digit" }).format(ms);
}

/** A day as the reader writes it ("Nov 27, 2026"), in the site's time zone. */
export function dateOnly(ms: number, timezone: string): string {
	return new Intl.DateTimeFormat(LOCALE, { timeZone: timezone, dateStyle: "medium" }).format(ms);
}

/** The local day of an instant in `timezone`, YYYY-MM-DD (for grouping and chart labels). */
export function localDay(ms: number, timezone: string): string {
	return new Intl.DateTimeFormat("en-CA", { timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit" }).format(ms);
}

/** A duration in hours: "36 min", "5.2 h", "3.1 d". */
export function hours(ms: number): string {
	const h = ms / 3_600_000;
	if (h < 1) return `${count(ms / 60_000)} min`;
	if (h < 48) return `${decimal(h, 1)} h`;
	return `${decimal(h / 24, 1)} d`;
}

/** An event or channel name for reading: "organic_search" → "organic search". */
export const words = (s: string) => s.replace(/_/g, " ");

let regions: Intl.DisplayNames | null | undefined;
/** A country code as the reader's language names it, with the code: "Spain (ES)"; the code alone when unknown. */
export function country(code: string | null): string {
	if (!code) return "–";
	if (!/^[A-Z]{2}$/.test(code)) return code;
	if (regions === undefined) {
		try {
			regions = new Intl.DisplayNames(LOCALE, { type: "region" });
		} catch {
			regions = null;
		}
	}
	const name = regions?.of(code);
	return name && name !== code ? `${name} (${code})` : code;
}
