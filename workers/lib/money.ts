/** Money: integer minor units of an ISO 4217 currency. */

const digitsCache = new Map<string, number>();

/** Minor units per currency unit (EUR 2, JPY 0, BHD 3). Cached: building an Intl.NumberFormat costs tens of µs. */
export function currencyDigits(code: string): number {
	let digits = digitsCache.get(code);
	if (digits === undefined) {
		try {
			digits = new Intl.NumberFormat("en", { style: "currency", currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
		} catch {
			digits = 2;
		}
		if (digitsCache.size < 1000) digitsCache.set(code, digits);
	}
	return digits;
}

/**
 * Largest amount stored, in minor units: 10^12 (10,000,000,000.00 EUR; 1,000,000,000,000 JPY). Amounts and
 * their sums stay integers that JavaScript numbers hold exactly (below 2^53 ≈ 9.007 × 10^15) until a sum
 * passes about 9,000 amounts of this size, i.e. 90 trillion EUR of revenue — no store's years of orders come
 * near it; SQLite's 64-bit SUM (9.2 × 10^18) holds a thousand times more.
 */
export const MAX_AMOUNT_MINOR = 1_000_000_000_000;

/** A non-negative decimal as text: its whole and fractional digits. */
const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/**
 * Why a decimal amount (`"59.90"` or 59.9) cannot be stored in currency `code`, or null when it can: it must be
 * non-negative (a refund is how money is subtracted), have at most the currency's decimals (trailing zeros
 * aside: "59.900" is 59.90 EUR), and come to at most MAX_AMOUNT_MINOR minor units.
 */
export function amountProblem(value: number | string, code: string): string | null {
	if (typeof value === "number" ? !(value >= 0) : value.trim().startsWith("-")) return "must not be negative (record a refund to subtract)";
	const digits = currencyDigits(code);
	const max = MAX_AMOUNT_MINOR / 10 ** digits;
	const tooBig = `must be at most ${max.toFixed(digits)} ${code}`;
	const tooPrecise = digits === 0 ? `must be a whole number of ${code}` : `at most ${digits} decimals in ${code}`;
	// A number's shortest text (59.9 → "59.9"); only numbers below 10^-6 or from 10^21 use an exponent.
	if (typeof value === "number" && (!Number.isFinite(value) || value >= 1e21)) return tooBig;
	const text = typeof value === "number" ? String(value) : value.trim();
	if (/e-/.test(text)) return tooPrecise;
	const m = DECIMAL.exec(text);
	if (!m) return "must be a decimal number such as 59.90";
	const whole = (m[1] ?? "").replace(/^0+(?=\d)/, "");
	const frac = (m[2] ?? "").replace(/0+$/, "");
	if (frac.length > digits) return tooPrecise;
	// Compare digit counts before converting, so 400 digits never become Infinity.
	if (whole.length > String(MAX_AMOUNT_MINOR).length || toMinor(`${whole}.${frac}`, code) > MAX_AMOUNT_MINOR) return tooBig;
	return null;
}

/**
 * Converts a decimal amount to integer minor units, exactly for decimal strings ("19.99" → 1999) and
 * rounding half away from zero beyond the currency's digits.
 */
export function toMinor(value: number | string, code: string): number {
	const digits = currencyDigits(code);
	if (typeof value === "number") return Math.sign(value) * Math.round(Math.abs(value) * 10 ** digits);
	const negative = value.startsWith("-");
	const [whole = "0", frac = ""] = value.replace(/^-/, "").split(".");
	const kept = (frac + "0".repeat(digits)).slice(0, digits);
	let minor = Number(whole) * 10 ** digits + Number(kept || "0");
	if ((frac[digits] ?? "0") >= "5") minor += 1;
	return negative ? -minor : minor;
}
