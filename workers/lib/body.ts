/** JSON request bodies for the /api/v1 write routes. */
import type { MiddlewareHandler } from "hono";
import { ApiError, fieldPath } from "./http";

/**
 * Reads a JSON body before the route's validator: 415 unless Content-Type is JSON, 413 over
 * `maxBytes` (before buffering it), 400 `invalid_encoding` for bytes that are not UTF-8, 400 `invalid_json` for text that is not JSON
 * (and 400 naming the field for what JSON.parse cannot represent faithfully: see parseJson). The text and the
 * parsed value are left in Hono's body cache, where the route's zod validator reads them.
 */
export function readJson(maxBytes = 5_000_000): MiddlewareHandler {
	return async (c, next) => {
		const type = c.req.header("Content-Type") ?? "";
		if (!/^application\/([\w.-]+\+)?json\s*(;|$)/i.test(type)) {
			throw new ApiError(415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json", [{ field: "Content-Type", message: type ? `got ${type.split(";")[0]}` : "missing" }]);
		}
		const text = await readText(c.req.raw, maxBytes);
		const parsed = parseJson(text);
		// Both caches (Hono keeps promises there, whatever its type says): c.req.json(), which the validators
		// call, parses the text one; given only the parsed value it would serialise and re-parse it, and
		// JSON.stringify turns what it cannot carry (Infinity) into null.
		Object.assign(c.req.bodyCache, { text: Promise.resolve(text), json: Promise.resolve(parsed) });
		await next();
	};
}

/** A lone UTF-16 surrogate: JSON can spell one (`"\ud800"`), but it is no Unicode text. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The first value JSON.parse made that the text did not mean: a string with a lone surrogate, or a number too large for a double. */
function unfaithfulValue(value: unknown): { path: PropertyKey[]; code: string; message: string } | null {
	const stack: [unknown, PropertyKey[]][] = [[value, []]];
	while (stack.length) {
		const [v, path] = stack.pop() as [unknown, PropertyKey[]];
		if (typeof v === "string") {
			if (LONE_SURROGATE.test(v)) return { path, code: "invalid_encoding", message: "lone UTF-16 surrogate (not Unicode text)" };
		} else if (typeof v === "number") {
			if (!Number.isFinite(v)) return { path, code: "invalid_request", message: "number out of range" };
		} else if (Array.isArray(v)) v.forEach((x, i) => stack.push([x, [...path, i]]));
		else if (typeof v === "object" && v !== null) {
			for (const [k, x] of Object.entries(v)) {
				if (LONE_SURROGATE.test(k)) return { path: [...path, k], code: "invalid_encoding", message: "lone UTF-16 surrogate in a key (not Unicode text)" };
				stack.push([x, [...path, k]]);
			}
		}
	}
	return null;
}

/**
 * Parses JSON text: 400 `invalid_json` when it is not JSON; 400 naming the field when a string escapes a
 * lone surrogate (`"\ud800"`: not Unicode, D1 and R2 would store U+FFFD, so what was acknowledged would
 * not read back) or a number overflows a double (`1e400` parses as Infinity, which JSON cannot carry on:
 * it would silently become null). Refused, never replaced.
 */
export function parseJson(text: string): unknown {
	let parsed: unknown;
	try {
		parsed = JSON.parse(text);
	} catch (err) {
		throw new ApiError(400, "invalid_json", "the body is not valid JSON", [{ field: "body", message: err instanceof Error ? err.message : "invalid JSON" }]);
	}
	// Only a \uD800–\uDFFF escape makes a lone surrogate (the text was decoded as strict UTF-8), and only a
	// 3-digit exponent or a 300-digit literal overflows: ordinary bodies skip the walk.
	const bad = /\\u[dD][89a-fA-F]|[eE]\+?0*\d{3}|\d{300}/.test(text) ? unfaithfulValue(parsed) : null;
	if (bad) throw new ApiError(400, bad.code, bad.code === "invalid_encoding" ? "a string is not Unicode text" : "a number is too large", [{ field: fieldPath(bad.path), message: bad.message }]);
	return parsed;
}

/**
 * The body's bytes, at most `max`: 413 from `Content-Length` before reading, and while streaming when the
 * length is absent or wrong, so a huge body is never buffered. (Signed webhooks need the bytes as sent.)
 */
export async function readBytes(req: Request, max: number): Promise<Uint8Array> {
	const tooLarge = () => new ApiError(413, "body_too_large", `the body exceeds ${max} bytes`, [{ field: "body", message: "too large" }]);
	if (Number(req.headers.get("Content-Length") ?? "0") > max) throw tooLarge();
	if (!req.body) return new Uint8Array(0);
	const reader = req.body.getReader();
	const parts: Uint8Array[] = [];
	let size = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		size += value.byteLength;
		if (size > max) {
			await reader.cancel();
			throw tooLarge();
		}
		parts.push(value);
	}
	const bytes = new Uint8Array(size);
	let at = 0;
	for (const p of parts) {
		bytes.set(p, at);
		at += p.byteLength;
	}
	return bytes;
}

/** The body as strict UTF-8 text of at most `max` bytes (see readBytes for the size checks). */
export async function readText(req: Request, max: number): Promise<string> {
	const bytes = await readBytes(req, max);
	try {
		return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
	} catch {
		throw new ApiError(400, "invalid_encoding", "the body is not valid UTF-8", [{ field: "body", message: "invalid UTF-8" }]);
	}
}
