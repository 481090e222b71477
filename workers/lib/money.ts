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
