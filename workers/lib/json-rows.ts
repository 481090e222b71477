/**
 * Rows for set-based SQL: many rows travel as one JSON parameter (`… FROM json_each(?)`, columns read
 * with `value ->> i`), which keeps statements few and sidesteps D1's 100-bound-parameter limit.
 */

/** JSON characters per bound value: well under D1's 2 MB limit for one value. */
export const MAX_JSON_CHARS = 900_000;

/** Splits rows into JSON arrays of at most MAX_JSON_CHARS characters. */
export function jsonChunks(rows: unknown[][], maxChars = MAX_JSON_CHARS): string[] {
	const chunks: string[] = [];
	let parts: string[] = [];
	let size = 2;
	for (const row of rows) {
		const part = JSON.stringify(row);
		if (parts.length && size + part.length + 1 > maxChars) {
			chunks.push(`[${parts.join(",")}]`);
			parts = [];
			size = 2;
		}
		parts.push(part);
		size += part.length + 1;
	}
	if (parts.length) chunks.push(`[${parts.join(",")}]`);
	return chunks;
}

