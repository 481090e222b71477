/** JSON request bodies for the /api/v1 write routes. */
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./http";

/**
 * Reads a JSON body before the route's validator: 415 unless Content-Type is JSON, 413 over
 * `maxBytes`, 400 `invalid_json` for text that is not JSON. The parsed value is left in Hono's body
 * cache, where the route's zod validator reads it.
 */
export function readJson(maxBytes = 5_000_000): MiddlewareHandler {
	return async (c, next) => {
		const type = c.req.header("Content-Type") ?? "";
		if (!/^application\/([\w.-]+\+)?json\s*(;|$)/i.test(type)) {
			throw new ApiError(415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json", [{ field: "Content-Type", message: type ? `got ${type.split(";")[0]}` : "missing" }]);
		}
		const tooLarge = () => new ApiError(413, "body_too_large", `the body exceeds ${maxBytes} bytes`, [{ field: "body", message: "too large" }]);
		if (Number(c.req.header("Content-Length") ?? "0") > maxBytes) throw tooLarge();
		const text = await c.req.text();
		if (text.length > maxBytes) throw tooLarge();
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
