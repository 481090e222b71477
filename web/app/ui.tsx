/** Building blocks shared by the pages: a panel with loading/empty/error states, KPI cards, tables with CSV. */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import type { KpiPoint, KpiResult } from "./api";
import { HttpError } from "./api";
import { Boundary } from "./boundary";
import { downloadCsv, toCsv, type Cell } from "./csv";
import { formatValue, signedPercent } from "./format";

export interface PanelProps {
	title: string;
	id?: string;
	loading?: boolean;
	error?: Error | null;
	/** Shown instead of the children when there is nothing to show (and nothing loading or failed). */
	empty?: string | false;
	wide?: boolean;
	actions?: ComponentChildren;
	note?: ComponentChildren;
	children?: ComponentChildren;
}

/**
 * A titled card. While loading with nothing to show yet: a skeleton; on error: the message; a 403 hides the
 * panel. What its content throws while rendering stays in the panel: its error state, the rest of the page
 * unaffected (tried again when the page renders the panel anew).
 */
export function Panel(props: PanelProps) {
	return (
		<Boundary resetKey={props.children} fallback={(failed) => <PanelView {...props} failed={failed} />}>
			<PanelView {...props} />
		</Boundary>
	);
}

function PanelView({ title, id, loading, error, failed, empty, wide, actions, note, children }: PanelProps & { failed?: Error }) {
	if (error instanceof HttpError && error.status === 403) return null;
	const state = error || failed ? "error" : loading ? "loading" : empty ? "empty" : "ready";
	return (
		<section class={`panel${wide ? " wide" : ""}`} aria-labelledby={id ? `${id}-title` : undefined} data-panel={id} data-state={state} aria-busy={loading ? "true" : "false"}>
			<header class="panel-head">
				<h2 id={id ? `${id}-title` : undefined}>{title}</h2>
				{actions && <div class="panel-actions">{actions}</div>}
			</header>
			{failed ? (
				<p class="msg err" role="alert">
					Could not show this panel: {failed.message}
				</p>
			) : error ? (
				<p class="msg err" role="alert">
					Could not load this panel: {error.message}
				</p>
			) : empty && !loading ? (
				<p class="msg">{empty}</p>
			) : loading && !children ? (
				<div class="skeleton" aria-label="Loading" />
			) : (
				children
			)}
			{note && <p class="note">{note}</p>}
		</section>
	);
}

export function Delta({ point, good, unit, label, currency }: { point: KpiPoint; good: "up" | "down"; unit: string; label: string; currency: string }) {
	const pct = point.delta_pct;
	if (point.compare === undefined) return null;
	// The API says why a change is missing (no like-for-like comparison for a day in progress, no data): show it.
	if (pct === null || pct === undefined) return <span class="delta flat" title={point.reason}>{point.reason && point.compare === null ? `no like-for-like ${label} value` : `no ${label} value`}</span>;
	const better = pct === 0 ? null : (pct > 0) === (good === "up");
	const arrow = pct > 0 ? "▲" : pct < 0 ? "▼" : "■";
	return (
		<span class={`delta ${better === null ? "flat" : better ? "good" : "bad"}`} title={`${label}: ${formatValue(point.compare ?? null, unit, currency)}`}>
			<span aria-hidden="true">{arrow}</span> {signedPercent(pct)} <span class="muted">vs {label}</span>
		</span>
	);
}

/** One KPI total: the value (raw in data-value for tests and tools), its change, its target. */
export function KpiCard({ kpi, currency, compareLabel, hint }: { kpi: KpiResult; currency: string; compareLabel: string; hint?: string }) {
	const t = kpi.total;
	// A range ending in a period in progress: the value is "so far", its change like-for-like (the API cuts the comparison).
	const last = kpi.series.at(-1);
	const soFar = t.partial && last?.partial ? `so far (${Math.round((last.elapsed ?? 0) * 100)}% of the ${last.from === last.to ? "day" : "period"})` : null;
	return (
		<div class="kpi" data-kpi-card={kpi.id} data-partial={t.partial ? "true" : undefined} data-delta-pct={t.delta_pct === undefined || t.delta_pct === null ? undefined : String(t.delta_pct)}>
			<span class="kpi-name" title={hint}>
				{kpi.name}
			</span>
			<b class="kpi-value" data-kpi={kpi.id} data-value={t.value === null ? "" : String(t.value)}>
				{formatValue(t.value, kpi.unit, currency)}
			</b>
			{soFar && <span class="kpi-so-far muted" data-kpi-so-far={kpi.id}>{soFar}</span>}
			{t.value === null && t.reason && <span class="kpi-reason muted">{t.reason}</span>}
			<Delta point={t} good={kpi.good} unit={kpi.unit} label={compareLabel} currency={currency} />
			{t.compare !== undefined && (
				<span class="kpi-compare muted" data-kpi-compare={kpi.id} data-value={t.compare === null ? "" : String(t.compare)}>
					{compareLabel}: {formatValue(t.compare, kpi.unit, currency)}
				</span>
			)}
			{t.target !== undefined && (
				<span class="kpi-target" data-kpi-target={kpi.id} data-value={String(t.target)}>
					Target {formatValue(t.target, kpi.unit, currency)}
					{t.progress !== null && t.progress !== undefined && (
						<>
							{" · "}
							<meter min={0} max={100} value={Math.min(100, t.progress)} aria-label="progress to target" /> {formatValue(t.progress, "percent", currency)}
						</>
					)}
				</span>
			)}
		</div>
	);
}

export interface Column<R> {
	key: string;
	label: string;
	/** Raw value (what the CSV holds). */
	value: (row: R) => Cell;
	/** Displayed text; default: the raw value. */
	format?: (row: R) => ComponentChildren;
	numeric?: boolean;
	/** Long text (paths, names) that may wrap instead of widening the table. */
	wrap?: boolean;
}

const cellClass = (c: { numeric?: boolean; wrap?: boolean }) => [c.numeric && "num", c.wrap && "wrap"].filter(Boolean).join(" ") || undefined;

/** A table and its "Download CSV" button; the CSV holds the raw values of every row. */
export function DataTable<R>({ columns, rows, filename, caption, id, limit }: { columns: Column<R>[]; rows: R[]; filename: string; caption: string; id?: string; limit?: number }) {
	const [all, setAll] = useState(false);
	const shown = limit && !all ? rows.slice(0, limit) : rows;
	const save = () =>
		downloadCsv(
			filename,
			toCsv(
				columns.map((c) => c.label),
				rows.map((r) => columns.map((c) => c.value(r))),
			),
		);
	return (
		<div class="table-block">
			<div class="table-scroll" tabIndex={0} role="region" aria-label={caption}>
				<table data-table={id}>
					<caption class="sr-only">{caption}</caption>
					<thead>
						<tr>
							{columns.map((c) => (
								<th scope="col" class={cellClass(c)} key={c.key}>
									{c.label}
								</th>
							))}
						</tr>
					</thead>
					<tbody>
						{shown.map((r, i) => (
							<tr key={i}>
								{columns.map((c) => (
									<td class={cellClass(c)} key={c.key}>
										{c.format ? c.format(r) : String(c.value(r) ?? "")}
									</td>
								))}
							</tr>
						))}
					</tbody>
				</table>
			</div>
			<div class="table-actions">
				{shown.length < rows.length && (
					<button type="button" class="link-button" onClick={() => setAll(true)}>
						Show all {rows.length} rows
					</button>
				)}
				<button type="button" class="link-button" onClick={save} data-csv={filename}>
					Download CSV{shown.length < rows.length ? ` (${rows.length} rows)` : ""}
				</button>
			</div>
		</div>
	);
}

/**
 * One number of an API answer that is not a catalogue KPI (a segment count, a profile total): `src` is the
 * URL it came from and `path` where it sits in that JSON (dot-separated), so tools and the browser test
 * can check it against the API; the raw value is in data-value.
 */
export function Stat({ label, value, text, src, path, note, hint }: { label: string; value: number | null; text: string; src: string; path: string; note?: ComponentChildren; hint?: string }) {
	return (
		<div class="kpi">
			<span class="kpi-name" title={hint}>
				{label}
			</span>
			<b class="kpi-value" data-src={src} data-path={path} data-value={value === null ? "" : String(value)}>
				{text}
			</b>
			{note && <span class="muted small">{note}</span>}
		</div>
	);
}

/** A share (0–100) as a bar with its number beside it (the bar is decoration: the number is the text). */
export function ShareBar({ pct, text }: { pct: number | null; text: ComponentChildren }) {
	return (
		<span class="share">
			<span class="share-bar" aria-hidden="true">
				<span style={{ width: `${Math.max(0, Math.min(100, pct ?? 0))}%` }} />
			</span>
			{text}
		</span>
	);
}

/** "Sort by" for a list whose sort lives in the URL; the default sort (first option) is left out of the URL. */
export function SortSelect({ sorts, value, onChange }: { sorts: readonly { id: string; label: string }[]; value: string; onChange: (sort: string | null) => void }) {
	return (
		<label>
			Sort by
			<select name="sort" value={value} onChange={(e) => onChange(e.currentTarget.value === sorts[0]?.id ? null : e.currentTarget.value)}>
				{sorts.map((s) => (
					<option value={s.id} key={s.id}>
						{s.label}
					</option>
				))}
			</select>
		</label>
	);
}
