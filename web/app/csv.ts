/** Tables as CSV files the reader downloads (RFC 4180 quoting, CRLF, raw values rather than formatted text). */

export type Cell = string | number | boolean | null | undefined;

function cell(v: Cell): string {
	const s = v === null || v === undefined ? "" : String(v);
	return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header: string[], rows: Cell[][]): string {
	return `${[header, ...rows].map((r) => r.map(cell).join(",")).join("\r\n")}\r\n`;
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
