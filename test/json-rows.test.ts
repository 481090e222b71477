/** Splitting rows into JSON parameters for set-based statements. */
import { expect, it } from "vitest";
import { jsonChunks } from "../workers/lib/json-rows";

it("splits rows into JSON arrays under the size limit, in order, losing none", () => {
	const rows = Array.from({ length: 50 }, (_, i) => [i, `row-${i}`, null, i % 2 === 0]);
	const chunks = jsonChunks(rows, 120);
	expect(chunks.length).toBeGreaterThan(5);
	for (const c of chunks) expect(c.length).toBeLessThanOrEqual(120);
	expect(chunks.flatMap((c) => JSON.parse(c))).toEqual(rows);
	expect(jsonChunks(rows)).toEqual([JSON.stringify(rows)]);
	expect(jsonChunks([])).toEqual([]);
});

it("puts a row larger than the limit alone in its own chunk rather than dropping it", () => {
	const big = ["x".repeat(300)];
	expect(jsonChunks([[1], big, [2]], 100).map((c) => JSON.parse(c))).toEqual([[[1]], [big], [[2]]]);
});
