/** The z-score detector on series with planted anomalies; expected values computed by hand in comments. */
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { api } from "./helpers";
import { zScores } from "../workers/alerts/anomaly";

it("flags a planted spike against the 7 points before it (|z| > 2.5)", () => {
	// Baseline 10, 12, 10, 12, 10, 12, 10: mean 76/7 = 10.857; sample variance (4 × 0.735 + 3 × 1.306) / 6 = 1.143; std 1.069.
	const series = [10, 12, 10, 12, 10, 12, 10, 20, 11];
	const scores = zScores(series);
	expect(scores.slice(0, 7).every((s) => s.z === null && !s.anomaly)).toBe(true); // not enough history
	const spike = scores[7];
	expect(spike?.mean).toBeCloseTo(10.857, 3);
	expect(spike?.std).toBeCloseTo(1.069, 3);
	expect(spike?.z).toBeCloseTo((20 - 76 / 7) / Math.sqrt(8 / 7), 9); // 8.55
	expect(spike).toMatchObject({ anomaly: true, direction: "up" });
	// The spike now sits in the next point's baseline: 12, 10, 12, 10, 12, 10, 20 → mean 86/7 = 12.286,
	// sum of squared deviations 3 × 0.082 + 3 × 5.224 + 59.51 = 75.43, std √(75.43 / 6) = 3.546; 11 → z −0.363.
	expect(scores[8]?.z).toBeCloseTo(-0.3626, 4);
	expect(scores[8]?.anomaly).toBe(false);
});

it("is seasonality-aware: a weekly pattern is normal, a drop on a busy weekday is not", () => {
	// Six weeks of a daily series: weekdays ~100, weekends ~40, with small noise.
	const week = (n: number) => [100 + n, 102 - n, 98 + n, 101, 99 - n, 40 + n, 42 - n];
	const series = [...week(0), ...week(1), ...week(2), ...week(1), ...week(0), ...week(2), ...week(1), ...week(0)];
	series[7 * 7 + 2] = 55; // the last week's Wednesday drops to 55
	const naive = zScores(series, { window: 7 });
	const seasonal = zScores(series, { window: 7, season: 7 });
	// Without seasonality the weekly swing inflates the baseline (std ≈ 28), so the drop hides in it…
	expect(naive[51]?.anomaly).toBe(false);
	expect(naive.some((s) => s.anomaly)).toBe(false);
	// …with it, the planted drop is flagged, and only it. Its baseline: Wednesdays 98, 99, 100, 99, 98, 100, 99 → mean 99, std 0.816.
	expect(seasonal.map((s, i) => (s.anomaly ? i : -1)).filter((i) => i >= 0)).toEqual([51]);
	expect(seasonal[51]).toMatchObject({ direction: "down", mean: 99 });
	expect(seasonal[51]?.z).toBeCloseTo((55 - 99) / Math.sqrt(4 / 6), 6);
});

it("skips missing values, needs a full baseline, and treats a flat baseline exactly", () => {
	expect(zScores([5, 5, 5, 5, 5, 5, 5, 5])[7]).toMatchObject({ z: 0, anomaly: false });
	expect(zScores([5, 5, 5, 5, 5, 5, 5, 6])[7]).toMatchObject({ z: null, anomaly: true, direction: "up" });
	expect(zScores([1, null, 2, 3, 4, 5, 6, 7, 8])[8]).toMatchObject({ z: null, anomaly: false }); // 6 baseline points < 7
	expect(zScores([1, null, 2, 3, 4, 5, 6, 7, 30], { minBaseline: 6 })[8]?.anomaly).toBe(true);
	expect(zScores([1, 2, 3, 4, 5, 6, 7, null])[7]).toMatchObject({ value: null, z: null, anomaly: false });
});

it("GET /api/v1/anomalies finds a planted revenue drop in a daily KPI series, weekday-aware", async () => {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('kanom', 'kanom', '[]', 'UTC', 'EUR', 0)").run();
	// Eight weeks from Monday 2026-03-02: weekdays 3 orders of 100.00, weekends 1; on Wednesday 2026-04-22 only 1.
	const orders = [];
	for (let d = 0; d < 56; d++) {
		const day = new Date(Date.UTC(2026, 2, 2) + d * 86_400_000);
		const weekend = day.getUTCDay() === 0 || day.getUTCDay() === 6;
		const n = day.toISOString().startsWith("2026-04-22") ? 1 : weekend ? 1 : 3;
		for (let i = 0; i < n; i++) orders.push({ order_id: `a-${d}-${i}`, customer_id: `c${d}-${i}`, placed_at: new Date(day.getTime() + (9 + i) * 3_600_000).toISOString(), total: 100, currency: "EUR" });
	}
	for (let i = 0; i < orders.length; i += 100) expect((await api("PUT", "/api/v1/orders?site=kanom", orders.slice(i, i + 100))).status).toBe(200);
	const res = await api("GET", "/api/v1/anomalies?site=kanom&ids=revenue&from=2026-04-20&to=2026-04-26");
	expect(res.status).toBe(200);
	const body = (await res.json()) as { kpis: { anomalies: number; points: { day: string; value: number; z: number | null; anomaly: boolean; direction: string | null }[] }[] };
	const points = body.kpis[0]?.points ?? [];
	expect(points.map((p) => p.day)).toEqual(["2026-04-20", "2026-04-21", "2026-04-22", "2026-04-23", "2026-04-24", "2026-04-25", "2026-04-26"]);
	// Every earlier Wednesday had 300.00: a flat baseline, so the drop to 100.00 is an anomaly without a finite z.
	expect(points.filter((p) => p.anomaly).map((p) => [p.day, p.value, p.direction])).toEqual([["2026-04-22", 100, "down"]]);
	expect(points.find((p) => p.day === "2026-04-25")).toMatchObject({ value: 100, z: 0, anomaly: false }); // a normal Saturday
	// Without seasonality the drop hides in the weekly swing: the 7 days before it (300, 300, 300, 100, 100, 300, 300)
	// have mean 242.86 and std 97.59, so z = (100 − 242.86) ÷ 97.59 = −1.46.
	const naive = (await (await api("GET", "/api/v1/anomalies?site=kanom&ids=revenue&from=2026-04-20&to=2026-04-26&season=none")).json()) as typeof body;
	const wednesday = naive.kpis[0]?.points.find((p) => p.day === "2026-04-22");
	expect(wednesday?.anomaly).toBe(false);
	expect(wednesday?.z).toBeCloseTo(-1.464, 3);
	const bad = await api("GET", "/api/v1/anomalies?site=kanom&ids=bogus&window=2");
	expect(((await bad.json()) as { fields: { field: string }[] }).fields.map((f) => f.field).sort()).toEqual(["ids", "window"]);
});

it("GET /api/v1/anomalies/minutes scores the flushed per-minute series: a spike, shards summed, season=day", async () => {
	const site = "minute-anomaly";
	await env.DB.prepare("INSERT INTO sites (id, name, created_at) VALUES (?, 'Minute anomalies', 0) ON CONFLICT DO NOTHING").bind(site).run();
	const M = 60_000;
	const T = Date.UTC(2026, 10, 20, 10, 0);
	// Minutes T..T+8: events 10, 12, 11, 9, 10, 11, 12, then a spike of 40, then 11. Shard 0 holds 6 of each
	// minute, shard 1 the rest, so the series is their sum. T+9 has no row at all.
	const values = [10, 12, 11, 9, 10, 11, 12, 40, 11];
	const rows = values.flatMap((v, i) => [
		[site, 0, T + i * M, 6, 0, 0, 0, 0],
		[site, 1, T + i * M, v - 6, 0, 0, 0, 0],
	]);
	await env.DB.prepare(
		"INSERT INTO live_minutes (site, shard, minute, events, page_views, visitors, orders, revenue_minor) SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7 FROM json_each(?)",
	)
		.bind(JSON.stringify(rows))
		.run();
	const from = new Date(T + 7 * M).toISOString();
	const to = new Date(T + 9 * M).toISOString();
	const res = await api("GET", `/api/v1/anomalies/minutes?site=${site}&metric=events&from=${from}&to=${to}`);
	expect(res.status).toBe(200);
	const body = (await res.json()) as { anomalies: number; points: { minute: number; value: number | null; mean: number | null; std: number | null; z: number | null; anomaly: boolean; direction: string | null }[] };
	// Baseline of T+7: 10, 12, 11, 9, 10, 11, 12 → mean 75/7 = 10.714; squared deviations sum 7.429, /6 = 1.238, std 1.113;
	// z = (40 − 10.714) / 1.113 = 26.3.
	const spike = body.points[0];
	expect(spike).toMatchObject({ minute: T + 7 * M, value: 40, anomaly: true, direction: "up" });
	expect(spike?.mean).toBeCloseTo(75 / 7, 9);
	expect(spike?.std).toBeCloseTo(Math.sqrt(52 / 7 / 6), 9);
	expect(spike?.z).toBeCloseTo((40 - 75 / 7) / Math.sqrt(52 / 7 / 6), 6);
	// T+8 = 11 against 12, 11, 9, 10, 11, 12, 40: mean 15, std 10.97 → z −0.36, normal.
	expect(body.points[1]).toMatchObject({ value: 11, anomaly: false });
	expect(body.points[1]?.mean).toBeCloseTo(15, 9);
	// T+9 has no row: after the site's first live minute, that is 0 events (a drop, z = (0 − 15)/10.97 = −1.37: normal against the spike-laden baseline).
	expect(body.points[2]).toMatchObject({ minute: T + 9 * M, value: 0, anomaly: false, direction: "down" });
	expect(body.anomalies).toBe(1);

	// season=day: the baseline is the same minute of the 7 previous days; none exist → not scored.
	const seasonal = (await (await api("GET", `/api/v1/anomalies/minutes?site=${site}&metric=events&from=${from}&to=${from}&season=day`)).json()) as { points: { value: number | null; z: number | null }[] };
	expect(seasonal.points).toEqual([expect.objectContaining({ value: 40, z: null })]);

	const bad = await api("GET", `/api/v1/anomalies/minutes?site=${site}&from=yesterday&metric=clicks`);
	expect(bad.status).toBe(400);
	const fields = ((await bad.json()) as { fields: { field: string }[] }).fields.map((f) => f.field).sort();
	expect(fields).toEqual(["from", "metric"]);
});
