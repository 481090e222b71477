/** JSON error contract shared by every route: `{ error, message, fields? }` with an HTTP 4xx/5xx status. */
import type { ContentfulStatusCode } from "hono/utils/http-status";

export interface FieldIssue {
	/** Path of the offending field, e.g. `events[3].props.value`. */
	field: string;
	message: string;
}

export interface ErrorBody {
	error: string;
	message: string;
	fields?: FieldIssue[];
}

/** A known, client-facing failure; `app.onError` turns it into its JSON body. */
export class ApiError extends Error {
	constructor(
		readonly status: ContentfulStatusCode,
		readonly code: string,
		message: string,
		readonly fields?: FieldIssue[],
		readonly headers?: Record<string, string>,
	) {
		super(message);
	}

	body(): ErrorBody {
		return this.fields ? { error: this.code, message: this.message, fields: this.fields } : { error: this.code, message: this.message };
	}

	/** The same error with more response headers (theirs win over `extra`). */
	withHeaders(extra: Record<string, string>): ApiError {
		return new ApiError(this.status, this.code, this.message, this.fields, { ...extra, ...this.headers });
	}
}

/** Formats a zod-style path (`["events", 3, "ts"]`) as `events[3].ts`. */
export function fieldPath(path: readonly PropertyKey[]): string {
	let out = "";
	for (const part of path) {
		if (typeof part === "number") out += `[${part}]`;
		else out += out ? `.${String(part)}` : String(part);
	}
	return out || "body";
}

/** YYYY-MM-DD of a UTC epoch-ms instant. */
export function utcDay(ms: number): string {
	return new Date(ms).toISOString().slice(0, 10);
}

export const SITE_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Lower-case hex SHA-256 of a string (cache keys, ETags). */
export async function sha256Hex(text: string): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
	return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
