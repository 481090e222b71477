/**
 * Tables as CSV files the reader downloads (RFC 4180 quoting, CRLF, raw values rather than formatted text).
 * Cells are the Worker's own `csvCell` (a pure function, the one runtime import from workers/): stored text
 * that a spreadsheet would run as a formula (`=HYPERLINK(…)`) comes out with a leading `'`; numbers stay numbers.
 */
import { csvCell } from "../../workers/lib/csv";

export type Cell = string | number | boolean | null | undefined;

export function toCsv(header: string[], rows: Cell[][]): string {
	return `${[header, ...rows].map((r) => r.map(csvCell).join(",")).join("\r\n")}\r\n`;
}

/** Saves `csv` as `filename` through a temporary object URL. */
export function downloadCsv(filename: string, csv: string): void {
	const url = URL.createObjectURL(new Blob([csv], { type: "text/csv;charset=utf-8" }));
	const a = document.createElement("a");
	a.href = url;
	a.download = filename;
	document.body.append(a);
	a.click();
	a.remove();
	setTimeout(() => URL.revokeObjectURL(url), 1000);
}
