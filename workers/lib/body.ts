/** JSON request bodies for the /api/v1 write routes. */
import { ApiError } from "./http";

/** Parses a JSON body, answering 400 (naming `body`) for anything that is not JSON. */
export async function jsonBody(req: Request, maxBytes = 5_000_000): Promise<unknown> {
	if (Number(req.headers.get("Content-Length") ?? "0") > maxBytes) throw new ApiError(413, "body_too_large", `the body exceeds ${maxBytes} bytes`, [{ field: "body", message: "too large" }]);
	const text = await req.text();
	if (text.length > maxBytes) throw new ApiError(413, "body_too_large", `the body exceeds ${maxBytes} bytes`, [{ field: "body", message: "too large" }]);
	try {
		return JSON.parse(text);
	} catch (err) {
		throw new ApiError(400, "invalid_json", "the body is not valid JSON", [{ field: "body", message: err instanceof Error ? err.message : "invalid JSON" }]);
	}
}
