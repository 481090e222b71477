/**
 * One CSV cell, shared by the Worker's CSV answers and the dashboard's CSV downloads (web/app/csv.ts): pure,
 * no bindings, no imports, so the dashboard bundle can take it as it is.
 */

/** Text a spreadsheet reads as a number, not a formula: -12.5, +3, 1e-7. */
const PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/** What makes a spreadsheet read a cell as a formula (OWASP "CSV Injection"). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A value as an RFC 4180 cell. Text that a spreadsheet would run as a formula (it starts with `=`, `+`, `-`,
 * `@`, tab or CR) gets a leading `'`, as OWASP recommends, so `=HYPERLINK(…)` from stored data shows as text.
 * The test is on the text, not the type: a number, or the text of a plain number (-12.5), stays a number.
 */
export function csvCell(v: unknown): string {
	const s = v === null || v === undefined ? "" : String(v);
	const safe = FORMULA_START.test(s) && !PLAIN_NUMBER.test(s) ? `'${s}` : s;
	return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
