/**
 * Field types shared by the JSON APIs and the CSV/NDJSON imports. CSV cells arrive as strings, so
 * every type accepts its typed JSON form and its text form; an empty cell means "absent".
 */
import { z } from "zod";

const empty = (v: unknown) => (v === "" || v === null ? undefined : v);

/** Natural id from the store: 1–128 printable characters. */
export const id = z.preprocess((v) => (typeof v === "number" && Number.isInteger(v) ? String(v) : v), z.string().trim().min(1).max(128));
export const optionalId = z.preprocess(empty, id.optional());
export const text = (max: number) => z.preprocess(empty, z.string().trim().max(max).optional());
export const currency = z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as EUR");
export const optionalCurrency = z.preprocess(empty, currency.optional());

/**
 * A decimal amount in currency units: 59.9 or "59.90" (no thousands separators). Its sign, decimals and size
 * are checked against its currency by the entity (EntitySpec.check → amountProblem), then it becomes minor units.
 */
export const amount = z.union([z.number().finite(), z.string().trim().regex(/^-?\d+(\.\d+)?$/, "must be a decimal number such as 59.90")], {
	error: "must be a decimal number such as 59.90",
});
export const optionalAmount = z.preprocess(empty, amount.optional());

const intText = z.string().trim().regex(/^-?\d+$/, "must be a whole number").transform(Number);
export const int = (min: number, max: number) => z.union([z.number().int(), intText], { error: "must be a whole number" }).pipe(z.number().int().min(min).max(max));
export const optionalInt = (min: number, max: number) => z.preprocess(empty, int(min, max).optional());

const TRUE = new Set(["true", "1", "yes", "y", "t"]);
const FALSE = new Set(["false", "0", "no", "n", "f"]);
export const bool = z.preprocess(
	(v) => (typeof v === "string" ? (TRUE.has(v.trim().toLowerCase()) ? true : FALSE.has(v.trim().toLowerCase()) ? false : v) : v === 1 ? true : v === 0 ? false : v),
	z.boolean({ error: "must be true or false" }),
);
export const optionalBool = z.preprocess(empty, bool.optional());

/** True when YYYY-MM-DD names a real calendar day (no 2026-02-30, no month 13). */
function realDay(ymd: string): boolean {
	const [y, m, d] = ymd.split("-").map(Number) as [number, number, number];
	const date = new Date(Date.UTC(y, m - 1, d));
	return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
/**
 * ISO 8601 (`2026-11-20T14:03:00Z`, offsets allowed; a bare date or a time without offset is UTC)
 * or epoch milliseconds → epoch ms.
 */
const TIMESTAMP_HELP = "must be an ISO 8601 date-time such as 2026-11-20T14:03:00Z, or epoch milliseconds";
/** 2100-01-01T00:00:00Z: the last instant stored, whichever form a timestamp arrives in. */
const LATEST_MS = 4_102_444_800_000;
export const timestamp = z.union(
	[
	z.number().int().min(0).max(LATEST_MS),
	z
		.string()
		.trim()
		.regex(ISO, TIMESTAMP_HELP)
		.transform((s, ctx) => {
			const normalized = s.replace(" ", "T");
			const hasZone = /(Z|[+-]\d{2}:?\d{2})$/.test(normalized);
			const ms = Date.parse(normalized.length === 10 ? `${normalized}T00:00:00Z` : hasZone ? normalized : `${normalized}Z`);
			if (Number.isNaN(ms) || !realDay(normalized.slice(0, 10))) {
				ctx.addIssue({ code: "custom", message: "is not a real date-time" });
				return z.NEVER;
			}
			// The text form keeps the number form's range: "1899-12-31" or "9999-12-31" would otherwise be
			// stored as instants no epoch-ms sender could send, and land in rollups as days outside any calendar.
			if (ms < 0 || ms > LATEST_MS) {
				ctx.addIssue({ code: "custom", message: "must be from 1970-01-01 to 2100-01-01 (UTC)" });
				return z.NEVER;
			}
			return ms;
		}),
	],
	{ error: TIMESTAMP_HELP },
);
export const optionalTimestamp = z.preprocess(empty, timestamp.optional());

/** A calendar day YYYY-MM-DD. */
export const day = z
	.string()
	.trim()
	.regex(/^\d{4}-\d{2}-\d{2}$/, "must be YYYY-MM-DD")
	.refine(realDay, "is not a real day")
	// The same years as timestamps (ISO days compare as text).
	.refine((d) => d >= "1970-01-01" && d < "2100-01-01", "must be from 1970-01-01 to 2099-12-31");
