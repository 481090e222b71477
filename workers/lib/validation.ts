/** zod → the API's field-naming errors. */
import type { z } from "zod";
import { fieldPath, type FieldIssue } from "./http";

export interface Issue {
	path: PropertyKey[];
	message: string;
	/** The zod issue code (`too_big`, `invalid_type`, …), when the issue came from zod. */
	code?: string;
}

/** A union option the input was not even the type of (`expected array`, got an object) says nothing about what to fix. */
function isShapeMiss(issues: readonly z.core.$ZodIssue[]): boolean {
	return issues.length === 1 && issues[0]?.code === "invalid_type" && issues[0].path.length === 0;
}

function flatten(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[]): Issue[] {
	const path = [...prefix, ...issue.path];
	if (issue.code === "unrecognized_keys") return issue.keys.map((k) => ({ path: [...path, k], message: "unknown field", code: issue.code }));
	// "One record or an array of them": when only one option matches the input's shape, its own issues are the answer.
	if (issue.code === "invalid_union") {
		const candidates = issue.errors.filter((errs) => !isShapeMiss(errs));
		if (candidates.length === 1) return (candidates[0] ?? []).flatMap((i) => flatten(i, path));
	}
	return [{ path, message: issue.message, code: issue.code }];
}

/** Flattens zod issues; an unknown key becomes an issue at that key's own path. */
export function toIssues(error: z.ZodError): Issue[] {
	return error.issues.flatMap((i) => flatten(i, []));
}

/** zod issues as the API's `fields`: `[{ field: "events[3].ts", message }]`. */
export function toFields(error: z.ZodError): FieldIssue[] {
	return toIssues(error).map((i) => ({ field: fieldPath(i.path), message: i.message }));
}
