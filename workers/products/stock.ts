/**
 * Stock arithmetic for the product views, pure: days of cover and stockout time from a SKU's inventory
 * snapshots. A snapshot's stock holds until the next snapshot (the store reports levels, not moves).
 */

export interface Snapshot {
	/** UTC epoch ms. */
	takenAt: number;
	stock: number;
}

/**
 * Days the current stock lasts at the average daily units sold over the last `days` days:
 * stock ÷ (units ÷ days), one decimal. null without a stock level or without recent sales (no finite cover).
 */
export function daysOfCover(stock: number | null, unitsSold: number, days: number): number | null {
	if (stock === null || unitsSold <= 0 || days <= 0) return null;
	return Math.round((Math.max(0, stock) / (unitsSold / days)) * 10) / 10;
}

/**
 * Intervals within [from, to) (UTC ms) during which the SKU was out of stock (the latest snapshot at
 * or before each instant shows stock ≤ 0), and their total length in days (two decimals). `snapshots`
 * must be sorted by time and may start before `from` (the last one before it sets the state at `from`).
 */
export function stockouts(snapshots: readonly Snapshot[], from: number, to: number): { intervals: { from: number; to: number }[]; days: number } {
	const intervals: { from: number; to: number }[] = [];
	let outSince: number | null = null;
	for (const s of snapshots) {
		if (s.takenAt >= to) break;
		const at = Math.max(s.takenAt, from);
		if (s.stock <= 0 && outSince === null) outSince = at;
		else if (s.stock > 0 && outSince !== null) {
			if (at > outSince) intervals.push({ from: outSince, to: at });
			outSince = null;
		}
	}
	if (outSince !== null && to > outSince) intervals.push({ from: outSince, to });
	const ms = intervals.reduce((n, i) => n + (i.to - i.from), 0);
	return { intervals, days: Math.round((ms / 86_400_000) * 100) / 100 };
}
