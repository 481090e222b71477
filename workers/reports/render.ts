/**
 * Rendering and archive of a Report: a self-contained HTML email (tables, inline styles only, charts as
 * inline SVG, no script, a print stylesheet for the browser's "Save as PDF"), CSV per table (the shared
 * formula-injection-safe cell, lib/csv.ts), and the R2 archive under one stable key per (site, kind,
 * subject, period) with its row in D1 `reports` (migration 0014). Every stored string is escaped.
 */
import { csvCell } from "../lib/csv";
import { ApiError } from "../lib/http";
import type { ChartPoint, Report, ReportChart, ReportColumn, ReportMetric, ReportSection, ReportTable } from "./types";

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
/** Text safe in HTML content and in quoted attribute values. */
export function esc(v: unknown): string {
	return String(v ?? "").replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
}

const FONT = "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
const INK = "#1f2937";
const MUTED = "#6b7280";
const LINE = "#e5e7eb";
const ACCENT = "#2563eb";

function num(v: string | number | null | undefined, unit: string, currency: string): string {
	if (v === null || v === undefined || v === "") return "–";
	if (typeof v === "string") return v;
	if (unit === "currency") return `${v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${currency}`;
	if (unit === "percent") return `${v.toLocaleString("en-US", { maximumFractionDigits: 2 })}%`;
	if (unit === "probability") return v.toLocaleString("en-US", { maximumFractionDigits: 3 });
	return v.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

function changeCell(pct: number | null | undefined): string {
	if (pct === null || pct === undefined) return `<span style="color:${MUTED}">–</span>`;
	const color = pct > 0 ? "#047857" : pct < 0 ? "#b91c1c" : MUTED;
	return `<span style="color:${color}">${pct > 0 ? "▲" : pct < 0 ? "▼" : "="} ${esc(Math.abs(pct).toFixed(1))}%</span>`;
}

/** KPI cards: two per row, so they fit a 375 px phone and a 640 px mail pane. */
function metricCards(metrics: ReportMetric[], currency: string): string {
	const shown = metrics.slice(0, 8);
	if (!shown.length) return "";
	const rows: string[] = [];
	for (let i = 0; i < shown.length; i += 2) {
		const cells = shown.slice(i, i + 2).map((m) => {
			const target = m.progress !== undefined && m.progress !== null ? `<div style="font-size:12px;color:${MUTED}">${esc(m.progress.toFixed(1))}% of target</div>` : "";
			return `<td class="card" width="50%" valign="top" style="padding:10px 12px;border:1px solid ${LINE};border-radius:6px;">
<div style="font-size:12px;color:${MUTED}">${esc(m.label)}</div>
<div style="font-size:20px;font-weight:600;color:${INK}">${esc(num(m.value, m.unit, currency))}</div>
<div style="font-size:12px">${m.compare !== undefined ? changeCell(m.delta_pct) : ""}</div>${target}</td>`;
		});
		if (cells.length === 1) cells.push(`<td width="50%"></td>`);
		rows.push(`<tr>${cells.join('<td width="8" style="width:8px"></td>')}</tr><tr><td colspan="3" height="8" style="height:8px;font-size:0;line-height:0">&nbsp;</td></tr>`);
	}
	return `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:separate;margin:8px 0">${rows.join("")}</table>`;
}

/** A bar chart (or history bars + forecast band) as inline SVG: mail clients that show images show it, nothing runs. */
export function chartSvg(chart: ReportChart): string {
	const W = 600;
	const H = 180;
	const padL = 8;
	const padB = 22;
	const padT = 12;
	const pts = chart.points;
	if (!pts.length) return "";
	const vals = pts.flatMap((p: ChartPoint) => [p.value, p.upper95, p.lower95].filter((v): v is number => typeof v === "number" && Number.isFinite(v)));
	const max = Math.max(0, ...vals);
	const min = Math.min(0, ...vals);
	const span = max - min || 1;
	const y = (v: number) => padT + ((max - v) / span) * (H - padT - padB);
	const slot = (W - padL * 2) / pts.length;
	const bw = Math.max(1, slot * 0.7);
	const parts: string[] = [];
	parts.push(`<line x1="${padL}" y1="${y(0).toFixed(1)}" x2="${W - padL}" y2="${y(0).toFixed(1)}" stroke="${LINE}" stroke-width="1"/>`);
	pts.forEach((p, i) => {
		const x = padL + i * slot + (slot - bw) / 2;
		const label = `${p.label}: ${p.value === null ? "no value" : p.value}`;
		if (p.lower95 !== undefined && p.upper95 !== undefined) {
			parts.push(`<rect x="${x.toFixed(1)}" y="${y(p.upper95).toFixed(1)}" width="${bw.toFixed(1)}" height="${Math.max(1, y(p.lower95) - y(p.upper95)).toFixed(1)}" fill="#bfdbfe"><title>${esc(`${p.label}: 95% ${p.lower95} – ${p.upper95}`)}</title></rect>`);
			if (p.lower80 !== undefined && p.upper80 !== undefined) parts.push(`<rect x="${x.toFixed(1)}" y="${y(p.upper80).toFixed(1)}" width="${bw.toFixed(1)}" height="${Math.max(1, y(p.lower80) - y(p.upper80)).toFixed(1)}" fill="#93c5fd"/>`);
			if (p.value !== null) parts.push(`<rect x="${x.toFixed(1)}" y="${(y(p.value) - 1).toFixed(1)}" width="${bw.toFixed(1)}" height="2" fill="${ACCENT}"><title>${esc(label)}</title></rect>`);
		} else if (p.value !== null) {
			const top = Math.min(y(p.value), y(0));
			parts.push(`<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${bw.toFixed(1)}" height="${Math.max(0.5, Math.abs(y(p.value) - y(0))).toFixed(1)}" fill="${ACCENT}"><title>${esc(label)}</title></rect>`);
		}
	});
	// First, middle and last labels: enough to read the axis without crowding.
	const marks = [...new Set([0, Math.floor((pts.length - 1) / 2), pts.length - 1])];
	for (const i of marks) {
		const x = padL + i * slot + slot / 2;
		parts.push(`<text x="${x.toFixed(1)}" y="${H - 6}" font-size="11" fill="${MUTED}" text-anchor="${i === 0 ? "start" : i === pts.length - 1 ? "end" : "middle"}">${esc(pts[i]?.label)}</text>`);
	}
	parts.push(`<text x="${W - padL}" y="${padT - 2}" font-size="11" fill="${MUTED}" text-anchor="end">max ${esc(num(max, chart.unit === "currency" ? "number" : chart.unit, ""))}</text>`);
	return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(chart.title)}" viewBox="0 0 ${W} ${H}" width="100%" style="max-width:${W}px;height:auto;display:block"><title>${esc(chart.title)}</title>${parts.join("")}</svg>`;
}

function tableHtml(t: ReportTable, currency: string): string {
	const right = (c: ReportColumn) => c.unit !== "text";
	const head = t.columns.map((c) => `<th align="${right(c) ? "right" : "left"}" style="padding:6px 8px;border-bottom:2px solid ${LINE};font-size:12px;color:${MUTED};font-weight:600">${esc(c.label)}</th>`).join("");
	const unitOf = (c: ReportColumn, row: Record<string, string | number | null>) => (c.unit === "number" && typeof row.unit === "string" ? row.unit : c.unit);
	const body = t.rows
		.map(
			(row) =>
				`<tr>${t.columns
					.map((c) => {
						const v = row[c.key] ?? null;
						const text = c.key === "link" && typeof v === "string" ? `<a href="${esc(v)}" style="color:${ACCENT}">export</a>` : esc(num(v, unitOf(c, row), currency));
						return `<td align="${right(c) ? "right" : "left"}" style="padding:6px 8px;border-bottom:1px solid ${LINE};font-size:13px;color:${INK}">${text}</td>`;
					})
					.join("")}</tr>`,
		)
		.join("");
	return `<table class="data" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;margin:8px 0 16px">
<caption style="text-align:left;font-size:13px;font-weight:600;color:${INK};padding:4px 0">${esc(t.title)}</caption>
<thead><tr>${head}</tr></thead><tbody>${body || `<tr><td colspan="${t.columns.length}" style="padding:6px 8px;font-size:13px;color:${MUTED}">none</td></tr>`}</tbody></table>`;
}

function sectionHtml(s: ReportSection, r: Report): string {
	const tables = s.tables.map((n) => r.tables.find((t) => t.name === n)).filter((t): t is ReportTable => t !== undefined);
	const findings = (s.findings ?? [])
		.map(
			(f) =>
				`<tr><td valign="top" style="padding:4px 8px 4px 0;font-size:14px">${f.kind === "achievement" ? "✅" : "⚠️"}</td><td style="padding:4px 0;font-size:14px;color:${INK}">${esc(f.text)}${f.link ? ` <a href="${esc(f.link)}" style="color:${ACCENT}">Export list</a>` : ""}</td></tr>`,
		)
		.join("");
	// Metric tables repeat the cards in full; the cards show the first eight.
	return `<tr><td class="section" style="padding:16px 24px;border-top:1px solid ${LINE}">
<h2 style="margin:0 0 8px;font-size:17px;color:${INK}">${esc(s.title)}</h2>
${s.text.map((t) => `<p style="margin:0 0 6px;font-size:14px;line-height:1.45;color:${INK}">${esc(t)}</p>`).join("")}
${findings ? `<table role="presentation" cellpadding="0" cellspacing="0" style="margin:6px 0">${findings}</table>` : ""}
${metricCards(s.metrics, r.currency)}
${s.chart ? `<div class="chart" style="margin:8px 0">${chartSvg(s.chart)}<div style="font-size:12px;color:${MUTED}">${esc(s.chart.title)}</div></div>` : ""}
${tables.map((t) => tableHtml(t, r.currency)).join("")}
</td></tr>`;
}

/** The report as one self-contained HTML document for email and the browser (no script, no external resource). */
export function renderHtml(r: Report): string {
	const generated = new Date(r.generated_at).toISOString().slice(0, 16).replace("T", " ");
	const omitted = r.omitted.length
		? `<tr><td style="padding:16px 24px;border-top:1px solid ${LINE}"><h2 style="margin:0 0 8px;font-size:15px;color:${MUTED}">Not in this report</h2>${r.omitted
				.map((o) => `<p style="margin:0 0 4px;font-size:13px;color:${MUTED}"><strong>${esc(o.section)}</strong>: ${esc(o.reason)}</p>`)
				.join("")}</td></tr>`
		: "";
	return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light">
<title>${esc(r.title)}</title>
<style media="print">
@page { size: A4; margin: 14mm; }
body { background: #fff !important; }
.wrap { width: 100% !important; max-width: none !important; border: 0 !important; }
.section { page-break-inside: avoid; break-inside: avoid; }
table.data { page-break-inside: auto; }
table.data tr { page-break-inside: avoid; break-inside: avoid; }
a { color: inherit !important; text-decoration: none !important; }
.noprint { display: none !important; }
</style>
</head>
<body style="margin:0;padding:0;background:#f3f4f6;${FONT}">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f3f4f6"><tr><td align="center" style="padding:16px 8px">
<table role="presentation" class="wrap" width="100%" cellpadding="0" cellspacing="0" style="max-width:680px;background:#ffffff;border:1px solid ${LINE};border-radius:8px;${FONT}">
<tr><td style="padding:20px 24px 12px">
<div style="font-size:12px;color:${MUTED};text-transform:uppercase;letter-spacing:.05em">Brain2Gain Analytics · ${esc(r.kind)} report</div>
<h1 style="margin:4px 0 4px;font-size:22px;color:${INK}">${esc(r.title)}</h1>
<div style="font-size:13px;color:${MUTED}">${esc(r.period.label)}: ${esc(r.period.from)} – ${esc(r.period.to)} (${esc(r.period.tz)}) · amounts in ${esc(r.currency)} · generated ${esc(generated)} UTC</div>
</td></tr>
${r.sections.map((s) => sectionHtml(s, r)).join("\n")}
${omitted}
<tr><td class="noprint" style="padding:12px 24px 20px;border-top:1px solid ${LINE};font-size:12px;color:${MUTED}">Every number comes from the Brain2Gain KPI engine and nightly analytics for this period; rules and thresholds: docs/reports/README.md.</td></tr>
</table></td></tr></table>
</body></html>
`;
}

/** One table as RFC 4180 CSV (header = column keys); unknown table → 400 naming `table`. Without a name: every table, one block each. */
export function renderCsv(r: Report, tableName?: string): string {
	const one = (t: ReportTable) => [t.columns.map((c) => csvCell(c.key)).join(","), ...t.rows.map((row) => t.columns.map((c) => csvCell(row[c.key] ?? null)).join(","))].join("\r\n") + "\r\n";
	if (tableName !== undefined) {
		const t = r.tables.find((x) => x.name === tableName);
		if (!t) throw new ApiError(400, "invalid_request", `the report has no table '${tableName}'`, [{ field: "table", message: `one of ${r.tables.map((x) => x.name).join(", ")}` }]);
		return one(t);
	}
	// Several tables in one file: each block starts with a `# name` line (spreadsheets show it as text).
	return r.tables.map((t) => `${csvCell(`# ${t.name}`)}\r\n${one(t)}`).join("\r\n");
}

/** Stable R2 key of a report's JSON: one per (site, kind, subject, period); the HTML is the same key with `.html`. */
export function reportKey(r: Pick<Report, "site" | "kind" | "subject" | "period">): string {
	const subject = r.subject === null ? "all" : encodeURIComponent(r.subject);
	return `reports/site=${r.site}/kind=${r.kind}/subject=${subject}/period=${r.period.label}.json`;
}

/** The HTML key beside a JSON key. */
export function htmlKey(jsonKey: string): string {
	return jsonKey.replace(/\.json$/, ".html");
}

/**
 * Writes the JSON and the HTML to R2 (ARCHIVE) and the row in D1 `reports`. A re-render of the same
 * period overwrites both objects and updates the row, so the archive keeps one report per key.
 */
export async function archiveReport(env: Env, r: Report): Promise<{ key: string }> {
	const key = reportKey(r);
	const json = JSON.stringify(r);
	const html = renderHtml(r);
	const bytes = new TextEncoder().encode(json).byteLength;
	const htmlBytes = new TextEncoder().encode(html).byteLength;
	const meta = { site: r.site, kind: r.kind, subject: r.subject ?? "", period: r.period.label, generated_at: String(r.generated_at) };
	await Promise.all([
		env.ARCHIVE.put(key, json, { httpMetadata: { contentType: "application/json" }, customMetadata: meta }),
		env.ARCHIVE.put(htmlKey(key), html, { httpMetadata: { contentType: "text/html; charset=utf-8" }, customMetadata: meta }),
	]);
	await env.DB.prepare(
		`INSERT INTO reports (site, kind, subject, period, key, title, generated_at, bytes, html_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (site, kind, subject, period) DO UPDATE SET key = excluded.key, title = excluded.title, generated_at = excluded.generated_at, bytes = excluded.bytes, html_bytes = excluded.html_bytes`,
	)
		.bind(r.site, r.kind, r.subject ?? "", r.period.label, key, r.title, r.generated_at, bytes, htmlBytes)
		.run();
	return { key };
}
