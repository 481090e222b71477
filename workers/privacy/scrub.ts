/**
 * Removing one person from documents we cannot rebuild from D1 (analytics snapshots, model artefacts,
 * archived reports, dead letters). Pure functions: the erasure (erase.ts) reads and writes R2.
 *
 * "Mentions" are decided on whole JSON strings, never on substrings of other text: a short customer id
 * such as `c1` must not take `c10` or `sc1-blue` with it. Emails are matched case-insensitively.
 */

/** What identifies the person: their customer id, and (when on file) email and name. */
export interface Needles {
	id: string;
	email: string | null;
	name: string | null;
}

const DROP: unique symbol = Symbol("drop");

/** Whether a JSON string value is (or, for an email, contains) one of the person's identifiers. */
export function mentions(value: string, n: Needles): boolean {
	if (value === n.id || (n.name !== null && value === n.name)) return true;
	return n.email !== null && value.toLowerCase().includes(n.email.toLowerCase());
}

function scrubValue(value: unknown, n: Needles): unknown {
	if (typeof value === "string") return mentions(value, n) ? DROP : value;
	if (Array.isArray(value)) return value.map((v) => scrubValue(v, n)).filter((v) => v !== DROP);
	if (value !== null && typeof value === "object") {
		const out: Record<string, unknown> = {};
		for (const [k, v] of Object.entries(value)) {
			// A map keyed by the person (`{ "<customer id>": {...} }`) loses that entry.
			if (mentions(k, n)) continue;
			const scrubbed = scrubValue(v, n);
			if (scrubbed === DROP) {
				// A record with a string field naming the person is a record about them: it goes as a whole.
				// A nested record about them only loses its place here.
				if (typeof v === "string") return DROP;
				continue;
			}
			out[k] = scrubbed;
		}
		return out;
	}
	return value;
}

/**
 * A JSON document without the person: records (objects) with a string field naming them are dropped
 * from their array or parent, map entries keyed by them are removed. Returns null when the document
 * itself is about them (or is not JSON, so cannot be rewritten safely).
 */
export function scrubJson(text: string, n: Needles): string | null {
	let doc: unknown;
	try {
		doc = JSON.parse(text);
	} catch {
		return null;
	}
	const out = scrubValue(doc, n);
	return out === DROP ? null : JSON.stringify(out);
}

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * An HTML page with the person's identifiers replaced by `[erased]`, as whole tokens (raw and
 * HTML-escaped spellings): reports are rendered documents, not data we can re-render for a past period.
 */
export function scrubHtml(html: string, n: Needles): string {
	let out = html;
	for (const needle of [n.email, n.id, n.name]) {
		if (!needle) continue;
		for (const spelling of new Set([needle, escapeHtml(needle)])) {
			const flags = needle === n.email ? "gi" : "g";
			// Token boundaries: not inside a longer id or word.
			out = out.replace(new RegExp(`(?<![\\w@.-])${escapeRegExp(spelling)}(?![\\w@-])`, flags), "[erased]");
		}
	}
	return out;
}

/** Whether any text mentions the person (a quick test before parsing): id and name as JSON strings, email anywhere. */
export function textMentions(text: string, n: Needles): boolean {
	if (text.includes(n.id)) return true;
	if (n.name !== null && text.includes(n.name)) return true;
	return n.email !== null && text.toLowerCase().includes(n.email.toLowerCase());
}
