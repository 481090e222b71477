/** Streaming CSV / NDJSON record parser for bulk imports: framing, offsets, resume, chunk-size independence, throughput. */
import { describe, expect, it } from "vitest";
import { mulberry32 } from "../scripts/seed-events.mjs";
import { ImportFormatError, parseRecords, readCsvHeader, type Format, type ParsedRow, type ParseOptions } from "../workers/import/parse";
import { importEventRecord } from "../workers/import/events";

const enc = new TextEncoder();
const bytesOf = (data: string | Uint8Array) => (typeof data === "string" ? enc.encode(data) : data);
const byteLength = (s: string) => enc.encode(s).length;

/** Chunk sizes every parse is repeated with: splits land inside CRLF, quotes, "" escapes and multi-byte characters. */
const SIZES = [1, 2, 3, 7, 64, Number.POSITIVE_INFINITY];

/** A pull-based stream handing out `data` in chunks of `size` bytes (fresh copies, as a network stream would). */
function streamOf(data: string | Uint8Array, size: number, onCancel?: () => void): ReadableStream<Uint8Array> {
	const bytes = bytesOf(data);
	let pos = 0;
	return new ReadableStream<Uint8Array>({
		pull(controller) {
			if (pos >= bytes.length) return controller.close();
			const n = Math.min(size, bytes.length - pos);
			controller.enqueue(bytes.slice(pos, pos + n));
			pos += n;
		},
		cancel() {
			onCancel?.();
		},
	});
}

async function collect(data: string | Uint8Array, format: Format, size: number, options?: ParseOptions): Promise<ParsedRow[]> {
	const rows: ParsedRow[] = [];
	for await (const row of parseRecords(streamOf(data, size), format, options)) rows.push(row);
	return rows;
}

/** Parses with every chunk size, checks they all agree, and returns the rows. */
async function parseAll(data: string | Uint8Array, format: Format, options?: ParseOptions): Promise<ParsedRow[]> {
	const whole = await collect(data, format, Number.POSITIVE_INFINITY, options);
	for (const size of SIZES) expect(await collect(data, format, size, options), `chunk size ${size}`).toEqual(whole);
	return whole;
}

/** Byte offsets just past each part of a file given as consecutive pieces. */
function endsOf(parts: string[]): number[] {
	let at = 0;
	return parts.map((p) => (at += byteLength(p)));
}

/** Checks that resuming after every row reproduces exactly the rows that follow it. */
async function checkResume(data: string | Uint8Array, format: Format, rows: ParsedRow[], header?: string[], size = 7): Promise<void> {
	const bytes = bytesOf(data);
	for (let k = 0; k < rows.length; k++) {
		const at = rows[k]!;
		const rest = await collect(bytes.subarray(at.end), format, size, { startOffset: at.end, startLine: at.nextLine, header });
		expect(rest, `resume after row ${k} (line ${at.line})`).toEqual(rows.slice(k + 1));
	}
}

describe("CSV", () => {
	it("parses quoted commas, escaped quotes and embedded CRLF / LF newlines, skipping empty lines", async () => {
		const parts = ["id,name,note\r\n", '1,"Smith, J","said ""hi"""\r\n', '2,plain,"multi\r\nline"\r\n', "\r\n", "\n", '3,x,"lf\nonly"\r\n'];
		const ends = endsOf(parts);
		const rows = await parseAll(parts.join(""), "csv");
		expect(rows).toEqual([
			{ line: 2, end: ends[1], nextLine: 3, record: { id: "1", name: "Smith, J", note: 'said "hi"' } },
			{ line: 3, end: ends[2], nextLine: 5, record: { id: "2", name: "plain", note: "multi\r\nline" } },
			{ line: 7, end: ends[5], nextLine: 9, record: { id: "3", name: "x", note: "lf\nonly" } },
		]);
		await checkResume(parts.join(""), "csv", rows, ["id", "name", "note"]);
	});

	it("skips a BOM (counted in offsets), also before a quoted header", async () => {
		expect(byteLength("\uFEFF")).toBe(3);
		expect(await parseAll("\uFEFFid,name\n1,a\n", "csv")).toEqual([{ line: 2, end: 3 + 12, nextLine: 3, record: { id: "1", name: "a" } }]);
		expect(await parseAll('\uFEFF"id","name"\r\n1,a', "csv")).toEqual([{ line: 2, end: 3 + 16, nextLine: 2, record: { id: "1", name: "a" } }]);
		// Only at file offset 0: a BOM elsewhere is data.
		expect(await parseAll("id\n\uFEFFx\n", "csv")).toEqual([{ line: 2, end: 3 + 3 + 2, nextLine: 3, record: { id: "\uFEFFx" } }]);
	});

	it("turns a wrong column count into an error row on the right line and carries on", async () => {
		const parts = ["a,b,c\n", "1,2,3\n", '"multi\nline",5\n', "6,7,8,9\n", "10,11,12"];
		const ends = endsOf(parts);
		expect(await parseAll(parts.join(""), "csv")).toEqual([
			{ line: 2, end: ends[1], nextLine: 3, record: { a: "1", b: "2", c: "3" } },
			{ line: 3, end: ends[2], nextLine: 5, error: "expected 3 columns, found 2" },
			{ line: 5, end: ends[3], nextLine: 6, error: "expected 3 columns, found 4" },
			{ line: 6, end: ends[4], nextLine: 6, record: { a: "10", b: "11", c: "12" } },
		]);
	});

	it("reports an unterminated quote at EOF as an error row", async () => {
		const data = 'a,b\n1,2\n3,"open\nstill open\n';
		expect(await parseAll(data, "csv")).toEqual([
			{ line: 2, end: 8, nextLine: 3, record: { a: "1", b: "2" } },
			{ line: 3, end: byteLength(data), nextLine: 5, error: "unterminated quoted field" },
		]);
	});

	it("keeps stray quotes in unquoted fields, appends text after a closing quote, and does not trim", async () => {
		const parts = ["a,b\n", 'ab"c,d\n', '"x"y,z\n', ' 1 ,"2" \n', ",\n"];
		const ends = endsOf(parts);
		expect(await parseAll(parts.join(""), "csv")).toEqual([
			{ line: 2, end: ends[1], nextLine: 3, record: { a: 'ab"c', b: "d" } },
			{ line: 3, end: ends[2], nextLine: 4, record: { a: "xy", b: "z" } },
			{ line: 4, end: ends[3], nextLine: 5, record: { a: " 1 ", b: "2 " } },
			{ line: 5, end: ends[4], nextLine: 6, record: { a: "", b: "" } },
		]);
	});

	it("handles a last line without newline, header-only files and trimmed header names", async () => {
		expect(await parseAll("a,b\n1,2", "csv")).toEqual([{ line: 2, end: 7, nextLine: 2, record: { a: "1", b: "2" } }]);
		expect(await parseAll("a,b\n", "csv")).toEqual([]);
		expect(await parseAll("a,b", "csv")).toEqual([]);
		expect(await parseAll("\n\r\n a , b \r\n1,2\r\n", "csv")).toEqual([{ line: 4, end: 17, nextLine: 5, record: { a: "1", b: "2" } }]);
	});

	it("keeps multi-byte characters intact across every chunk split", async () => {
		const data = 'name,emoji\né,💪\n中文,"💪,中"\n"é""",x💪y\n';
		expect(await parseAll(data, "csv")).toEqual([
			{ line: 2, end: byteLength("name,emoji\né,💪\n"), nextLine: 3, record: { name: "é", emoji: "💪" } },
			{ line: 3, end: byteLength('name,emoji\né,💪\n中文,"💪,中"\n'), nextLine: 4, record: { name: "中文", emoji: "💪,中" } },
			{ line: 4, end: byteLength(data), nextLine: 5, record: { name: 'é"', emoji: "x💪y" } },
		]);
	});

	it("reports invalid UTF-8 as an error row", async () => {
		const data = new Uint8Array([...enc.encode("a,b\n1,"), 0xff, ...enc.encode("\n2,3\n")]);
		expect(await parseAll(data, "csv")).toEqual([
			{ line: 2, end: 8, nextLine: 3, error: "invalid UTF-8" },
			{ line: 3, end: 12, nextLine: 4, record: { a: "2", b: "3" } },
		]);
	});

	it("refuses a duplicate, empty or missing header", async () => {
		await expect(collect("a,b,a,b,c\n1,2,3,4,5\n", "csv", 64)).rejects.toThrow(ImportFormatError);
		await expect(collect("a,b,a,b,c\n1,2,3,4,5\n", "csv", 64)).rejects.toThrow(/duplicate column names: a, b/);
		await expect(collect("a, b ,b\n", "csv", 64)).rejects.toThrow(/duplicate column names: b/);
		await expect(collect("a,,b\n1,2,3\n", "csv", 64)).rejects.toThrow(/column 2 has an empty name/);
		await expect(collect("", "csv", 64)).rejects.toThrow(/missing CSV header/);
		await expect(collect("\n\r\n\n", "csv", 64)).rejects.toThrow(/missing CSV header/);
		await expect(collect('a,"b\n', "csv", 64)).rejects.toThrow(/CSV header \(line 1\): unterminated quoted field/);
		await expect(collect("1,2\n", "csv", 64, { header: ["x", "x"] })).rejects.toThrow(ImportFormatError);
	});

	it("treats an over-long record as an error row and recovers at its end, honouring quotes", async () => {
		const max = 10;
		const parts = ["a,b\n", "1,2\n", "x".repeat(20) + ",y\r\n", '"' + "line\n".repeat(10) + '",y\n', "12345678,9\r\n", "123456789,0\n", "3,4"];
		const ends = endsOf(parts);
		expect(await parseAll(parts.join(""), "csv", { maxRecordBytes: max })).toEqual([
			{ line: 2, end: ends[1], nextLine: 3, record: { a: "1", b: "2" } },
			{ line: 3, end: ends[2], nextLine: 4, error: "record longer than 10 bytes" },
			{ line: 4, end: ends[3], nextLine: 15, error: "record longer than 10 bytes" },
			// Exactly at the limit (the CR does not count); one byte over.
			{ line: 15, end: ends[4], nextLine: 16, record: { a: "12345678", b: "9" } },
			{ line: 16, end: ends[5], nextLine: 17, error: "record longer than 10 bytes" },
			{ line: 17, end: ends[6], nextLine: 17, record: { a: "3", b: "4" } },
		]);
	});

	it("lets a runaway quote that overflows the limit end at EOF as one error row", async () => {
		const data = 'a,b\n1,"never closed\n' + "2,3\n".repeat(10);
		expect(await parseAll(data, "csv", { maxRecordBytes: 10 })).toEqual([{ line: 2, end: byteLength(data), nextLine: 13, error: "record longer than 10 bytes (unterminated quoted field)" }]);
	});

	it("copes with a source that enqueues the same buffer object again", async () => {
		const row = enc.encode('1,"a\nb"\n');
		let left = 3;
		const input = new ReadableStream<Uint8Array>({
			start(controller) {
				controller.enqueue(enc.encode("x,y\n"));
			},
			pull(controller) {
				if (left-- === 0) return controller.close();
				controller.enqueue(row);
			},
		});
		const rows: ParsedRow[] = [];
		for await (const r of parseRecords(input, "csv")) rows.push(r);
		expect(rows.map((r) => [r.line, r.end, r.record])).toEqual([2, 4, 6].map((line, k) => [line, 4 + 8 * (k + 1), { x: "1", y: "a\nb" }]));
	});

	it("keeps a __proto__ column as data", async () => {
		const [row] = await collect("__proto__,b\nx,y\n", "csv", 64);
		expect(Object.keys(row!.record!)).toEqual(["__proto__", "b"]);
		expect(row!.record!["__proto__"]).toBe("x");
	});
});

describe("NDJSON", () => {
	it("parses objects, skips blank lines, rejects invalid JSON and non-objects with their line numbers", async () => {
		const lines = ['{"a":1}\n', "\n", "  \t \r\n", '{"b":[1,2],"s":"é💪中"}\r\n', "{bad json}\n", "[1,2]\n", "42\n", '"str"\n', "null\n", '{"c":true}'];
		const ends = endsOf(lines);
		const rows = await parseAll(lines.join(""), "ndjson");
		expect(rows[2]!.error).toMatch(/^invalid JSON: /);
		expect(rows.map((r) => ({ ...r, error: r.error?.startsWith("invalid JSON: ") ? "invalid JSON" : r.error }))).toEqual([
			{ line: 1, end: ends[0], nextLine: 2, record: { a: 1 } },
			{ line: 4, end: ends[3], nextLine: 5, record: { b: [1, 2], s: "é💪中" } },
			{ line: 5, end: ends[4], nextLine: 6, error: "invalid JSON" },
			{ line: 6, end: ends[5], nextLine: 7, error: "not a JSON object" },
			{ line: 7, end: ends[6], nextLine: 8, error: "not a JSON object" },
			{ line: 8, end: ends[7], nextLine: 9, error: "not a JSON object" },
			{ line: 9, end: ends[8], nextLine: 10, error: "not a JSON object" },
			{ line: 10, end: ends[9], nextLine: 10, record: { c: true } },
		]);
		await checkResume(lines.join(""), "ndjson", rows);
	});

	it("skips a BOM", async () => {
		expect(await parseAll('\uFEFF{"a":1}\r\n{"a":2}', "ndjson")).toEqual([
			{ line: 1, end: 12, nextLine: 2, record: { a: 1 } },
			{ line: 2, end: 19, nextLine: 2, record: { a: 2 } },
		]);
	});

	it("rejects an over-long line without buffering it and parses the next one", async () => {
		const data = '{"a":"' + "x".repeat(100) + '"}\n{"b":2}\n';
		expect(await parseAll(data, "ndjson", { maxRecordBytes: 16 })).toEqual([
			{ line: 1, end: 109, nextLine: 2, error: "line longer than 16 bytes" },
			{ line: 2, end: 117, nextLine: 3, record: { b: 2 } },
		]);
		// The default limit, with a line far longer than any chunk.
		const big = '{"a":"' + "x".repeat(1_200_000) + '"}\n{"b":2}';
		const rows = await collect(big, "ndjson", 65_536);
		expect(rows).toEqual([
			{ line: 1, end: 1_200_009, nextLine: 2, error: "line longer than 1048576 bytes" },
			{ line: 2, end: 1_200_016, nextLine: 2, record: { b: 2 } },
		]);
	});
});

describe("offsets and resume", () => {
	it("readCsvHeader returns the header, the offset after it and the next line, and cancels the stream", async () => {
		const data = '\uFEFF\n\r\nid,"na\nme"\r\n1,2\n3,"4\n"\n';
		let cancelled = false;
		const head = await readCsvHeader(streamOf(data, 5, () => (cancelled = true)));
		expect(head).toEqual({ header: ["id", "na\nme"], end: byteLength('\uFEFF\n\r\nid,"na\nme"\r\n'), nextLine: 5 });
		expect(cancelled).toBe(true);
		const rest = await collect(bytesOf(data).subarray(head.end), "csv", 3, { startOffset: head.end, startLine: head.nextLine, header: head.header });
		expect(rest).toEqual((await parseAll(data, "csv")).slice());
		expect(rest.map((r) => r.line)).toEqual([5, 6]);
		await expect(readCsvHeader(streamOf("\n\n", 1))).rejects.toThrow(ImportFormatError);
	});

	it("cancels the input when the consumer stops early", async () => {
		let cancelled = false;
		for await (const row of parseRecords(streamOf("a\n1\n2\n3\n", 2, () => (cancelled = true)), "csv")) {
			expect(row.record).toEqual({ a: "1" });
			break;
		}
		expect(cancelled).toBe(true);
	});

	it("refuses bad options", async () => {
		await expect(collect("a\n", "csv", 1, { maxRecordBytes: 0 })).rejects.toThrow(RangeError);
		await expect(collect("a\n", "csv", 1, { startLine: 0 })).rejects.toThrow(RangeError);
	});
});

/** Small seeded PRNG (mulberry32, shared with the demo seed) so failures reproduce. */
const prng = mulberry32;

/** A generated file and the rows a correct parser must produce for it. */
interface Fixture {
	data: string;
	rows: ParsedRow[];
}

function generatedCsv(seed: number, count: number): Fixture {
	const rand = prng(seed);
	const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
	const pieces = ["a", "b", "x", " ", ",", '"', "\n", "\r\n", "é", "💪", "中", "42", "-"];
	const header = ["id", "name", "note", "amount"];
	const value = () => Array.from({ length: Math.floor(rand() * 6) }, () => pick(pieces)).join("");
	const encodeField = (v: string) => (/[",\r\n]/.test(v) || rand() < 0.3 ? `"${v.replaceAll('"', '""')}"` : v);
	let data = header.join(",") + "\n";
	let line = 2;
	const rows: ParsedRow[] = [];
	for (let k = 0; k < count; k++) {
		if (rand() < 0.05) {
			const blank = pick(["\n", "\r\n"]);
			data += blank;
			line++;
			continue;
		}
		const width = rand() < 0.05 ? pick([3, 5]) : 4;
		const values = Array.from({ length: width }, value);
		// A lone empty field would be an empty line (skipped); not a case to generate.
		const text = values.map(encodeField).join(",");
		const last = k === count - 1 && rand() < 0.5;
		const eol = last ? "" : pick(["\n", "\r\n"]);
		data += text + eol;
		// At EOF without a newline, the line at `end` is still the record's last line.
		const nextLine = line + (text.match(/\n/g)?.length ?? 0) + (eol ? 1 : 0);
		const end = byteLength(data);
		if (width === 4) rows.push({ line, end, nextLine, record: Object.fromEntries(header.map((h, i) => [h, values[i]!])) });
		else rows.push({ line, end, nextLine, error: `expected 4 columns, found ${width}` });
		line = nextLine;
	}
	return { data, rows };
}

function generatedNdjson(seed: number, count: number): Fixture {
	const rand = prng(seed);
	const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
	const strings = ["", "a", "é💪中", 'quote " and \\ backslash', "tab\tnew\nline", "x".repeat(200)];
	let data = "";
	let line = 1;
	const rows: ParsedRow[] = [];
	for (let k = 0; k < count; k++) {
		const kind = rand();
		const eol = k === count - 1 ? "" : pick(["\n", "\r\n"]);
		let text: string;
		let expected: Pick<ParsedRow, "record" | "error"> | undefined;
		if (kind < 0.05) text = pick(["", " ", "\t "]);
		else if (kind < 0.1) {
			text = pick(["[1]", "7", '"s"', "true"]);
			expected = { error: "not a JSON object" };
		} else if (kind < 0.15) {
			text = pick(["{", '{"a":}', "nope"]);
			expected = { error: "invalid JSON" };
		} else {
			const record = { id: k, name: pick(strings), tags: [pick(strings)], nested: { n: rand() } };
			text = JSON.stringify(record);
			expected = { record };
		}
		data += text + eol;
		if (expected) rows.push({ line, end: byteLength(data), nextLine: eol ? line + 1 : line, ...expected });
		line++;
	}
	return { data, rows };
}

/** JSON.parse messages are the engine's; compare only the prefix. */
const normalise = (rows: ParsedRow[]) => rows.map((r) => (r.error?.startsWith("invalid JSON: ") ? { ...r, error: "invalid JSON" } : r));

describe("chunk-size independence (seeded property tests)", () => {
	it.each([1, 2, 3])("CSV, seed %i: every chunk size gives the expected rows, and resuming anywhere gives the rest", async (seed) => {
		const { data, rows } = generatedCsv(seed, 200);
		expect(await parseAll(data, "csv")).toEqual(rows);
		const rand = prng(seed * 7919);
		for (let k = 0; k < 8; k++) {
			const at = rows[Math.floor(rand() * rows.length)]!;
			const rest = await collect(bytesOf(data).subarray(at.end), "csv", 1 + Math.floor(rand() * 50), { startOffset: at.end, startLine: at.nextLine, header: ["id", "name", "note", "amount"] });
			expect(rest).toEqual(rows.filter((r) => r.end > at.end));
		}
	});

	it.each([1, 2])("NDJSON, seed %i", async (seed) => {
		const { data, rows } = generatedNdjson(seed, 200);
		expect(normalise(await parseAll(data, "ndjson"))).toEqual(rows);
		await checkResume(data, "ndjson", await collect(data, "ndjson", 64), undefined, 29);
	});
});

describe("streaming throughput", () => {
	it("parses ~50 MB of CSV generated lazily, without materialising it", { timeout: 120_000 }, async () => {
		// One ~1 MB block of rows, repeated: the stream hands out 64 KiB views of it on demand.
		const rowsPerBlock = 12_000;
		let block = "";
		for (let i = 0; i < rowsPerBlock; i++) {
			const product = i % 10 === 0 ? '"Whey Protein, Vanilla 1kg"' : `SKU-${i % 977}`;
			block += `${100_000 + i},customer${i % 5003}@example.com,2025-0${1 + (i % 9)}-1${i % 10}T12:34:56Z,${(i % 9000) / 100},EUR,${product},${1 + (i % 7)}\n`;
		}
		const blockBytes = enc.encode(block);
		const header = enc.encode("order_id,email,placed_at,amount,currency,product,qty\n");
		const blocks = Math.ceil(50_000_000 / blockBytes.length);
		const total = header.length + blocks * blockBytes.length;
		const CHUNK = 65_536;
		let sent = 0; // blocks handed out so far
		let pos = 0; // position inside the current block
		let headerSent = false;
		const input = new ReadableStream<Uint8Array>({
			pull(controller) {
				if (!headerSent) {
					headerSent = true;
					return controller.enqueue(header);
				}
				if (sent === blocks) return controller.close();
				const n = Math.min(CHUNK, blockBytes.length - pos);
				controller.enqueue(blockBytes.subarray(pos, pos + n));
				pos += n;
				if (pos === blockBytes.length) {
					pos = 0;
					sent++;
				}
			},
		});
		const started = performance.now();
		let count = 0;
		let errors = 0;
		let last: ParsedRow | undefined;
		for await (const row of parseRecords(input, "csv")) {
			count++;
			if (row.error) errors++;
			last = row;
		}
		const seconds = (performance.now() - started) / 1000;
		console.log(`import parser: ${(total / 1e6).toFixed(1)} MB, ${count} rows in ${seconds.toFixed(2)} s = ${(total / 1e6 / seconds).toFixed(1)} MB/s`);
		expect(count).toBe(blocks * rowsPerBlock);
		expect(errors).toBe(0);
		expect(last?.end).toBe(total);
		expect(last?.record?.["product"]).toBe(`SKU-${(rowsPerBlock - 1) % 977}`);
	});
});

describe("readCsvHeader regression", () => {
	// Pins the bug where data rows arriving in the same chunk as the header were checked as headers too.
	it("reads only the header when data rows with empty cells share its chunk", async () => {
		const text = "a,b,c\r\n1,,\r\n2,,3\r\n";
		const h = await readCsvHeader(new Response(text).body as ReadableStream<Uint8Array>);
		expect(h).toEqual({ header: ["a", "b", "c"], end: 7, nextLine: 2 });
	});
});

describe("event import lines: what the source tool recorded about the visit", () => {
	const ctx = { site: "demo", currency: "EUR", now: Date.UTC(2026, 2, 1) };
	const line = (extra: Record<string, unknown>) => ({ id: "e1", name: "page_view", ts: Date.UTC(2025, 5, 1), url: "https://shop.example/", visitor_id: "v1", ...extra });
	const IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

	it("derives device, browser and OS from user_agent as /e does, and keeps the country", () => {
		const r = importEventRecord(line({ user_agent: IPHONE, country: "ES" }), ctx);
		expect(r.ok && { device: r.event.device, browser: r.event.browser, os: r.event.os, country: r.event.country }).toEqual({ device: "mobile", browser: "Safari", os: "iOS", country: "ES" });
	});

	it("without them: device other, no browser, no country", () => {
		const r = importEventRecord(line({}), ctx);
		expect(r.ok && [r.event.device, r.event.browser, r.event.country]).toEqual(["other", null, null]);
	});

	it("refuses a malformed country or user_agent, naming the field", () => {
		for (const [extra, field] of [[{ country: "es" }, "country"], [{ country: "ESP" }, "country"], [{ user_agent: 42 }, "user_agent"], [{ user_agent: "x".repeat(513) }, "user_agent"]] as const) {
			const r = importEventRecord(line(extra), ctx);
			expect(r.ok, JSON.stringify(extra)).toBe(false);
			if (!r.ok) expect(r.error.issues[0]?.path).toEqual([field]);
		}
	});
});

describe("NDJSON rows JSON cannot carry faithfully", () => {
	it("a lone-surrogate escape or an overflowing number is that row's reject naming the field; the rows around it parse", async () => {
		const text = '{"supplier_id":"s1","name":"ok"}\n{"supplier_id":"s2","name":"a\\ud800b"}\n{"supplier_id":"s3","lead":1e400}\n{"supplier_id":"s4","name":"fine \\ud83d\\ude00"}\n';
		const rows = await collect(text, "ndjson", Number.POSITIVE_INFINITY);
		expect(rows.map((r) => r.error ?? null)).toEqual([null, expect.stringMatching(/^name: /), expect.stringMatching(/^lead: /), null]);
		expect(rows[3]?.record).toEqual({ supplier_id: "s4", name: "fine \u{1F600}" });
	});
});

