/** zod → the API's field-naming errors. */
import type { z } from "zod";
import { ApiError, fieldPath } from "./http";

export interface Issue {
	path: PropertyKey[];
	message: string;
}

/** Flattens zod issues; an unknown key becomes an issue at that key's own path. */
export function toIssues(error: z.ZodError): Issue[] {
	return error.issues.flatMap((i) =>
		i.code === "unrecognized_keys" ? i.keys.map((k) => ({ path: [...i.path, k], message: "unknown field" })) : [{ path: i.path, message: i.message }],
	);
}

/** Parses or throws 400 `invalid_request` naming every offending field. */
export function parseOr400<T>(schema: z.ZodType<T>, body: unknown): T {
	const r = schema.safeParse(body);
	if (!r.success) throw new ApiError(400, "invalid_request", "the request body is invalid", toIssues(r.error).map((i) => ({ field: fieldPath(i.path), message: i.message })));
	return r.data;
}
