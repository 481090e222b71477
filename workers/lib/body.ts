/** JSON request bodies for the /api/v1 write routes. */
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./http";

/**
 * Reads a JSON body before the route's validator: 415 unless Content-Type is JSON, 413 over
 * `maxBytes` (before buffering it), 400 `invalid_encoding` for bytes that are not UTF-8, 400 `invalid_json` for text that is not JSON. The parsed value is left in Hono's body
 * cache, where the route's zod validator reads it.
 */
export function readJson(maxBytes = 5_000_000): MiddlewareHandler {
	return async (c, next) => {
		const type = c.req.header("Content-Type") ?? "";
		if (!/^application\/([\w.-]+\+)?json\s*(;|$)/i.test(type)) {
			throw new ApiError(415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json", [{ field: "Content-Type", message: type ? `got ${type.split(";")[0]}` : "missing" }]);
		}
		const text = await readText(c.req.raw, maxBytes);
		let parsed: unknown;
		try {
			parsed = JSON.parse(text);
		} catch (err) {
			throw new ApiError(400, "invalid_json", "the body is not valid JSON", [{ field: "body", message: err instanceof Error ? err.message : "invalid JSON" }]);
		}
		c.req.bodyCache.json = Promise.resolve(parsed);
		await next();
	};
}

/**
 * The body as strict UTF-8 text of at most `max` bytes: refused with 413 from `Content-Length` before
 * reading, and while streaming when the length is absent or wrong, so a huge body is never buffered.
 */
export async function readText(req: Request, max: number): Promise<string> {
	const tooLarge = () => new ApiError(413, "body_too_large", `the body exceeds ${max} bytes`, [{ field: "body", message: "too large" }]);
	const declared = Number(req.headers.get("Content-Length") ?? "0");
	if (declared > max) throw tooLarge();
	if (!req.body) return "";
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
	try {
		return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
	} catch {
		throw new ApiError(400, "invalid_encoding", "the body is not valid UTF-8", [{ field: "body", message: "invalid UTF-8" }]);
	}
}
