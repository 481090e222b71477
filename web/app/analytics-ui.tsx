/**
 * Building blocks of the nightly customer analytics views (segments, cohorts, basket, CLV): loading an
 * analytics answer (refetched when a run started from the dashboard completes), the "no run yet" state
 * with the admin's "Run now" (POST /jobs/nightly/run, then polling GET /jobs/{id}), heat-map tables with
 * their CSV, and the formatting of fractions, lifts and item sets.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { apiUrl, getJson, HttpError, postJson, type AnalyticsRun, type Loadable } from "./api";
import { downloadCsv, toCsv, type Cell } from "./csv";
import { decimal, formatValue, words } from "./format";
import { pageUrl, useApp } from "./state";
import { Panel } from "./ui";

// ─── loading ─────────────────────────────────────────────────────────────────────────────────────

/** Bumped when a run started here completes: every mounted analytics answer is fetched again. */
let generation = 0;
const subscribers = new Set<(n: number) => void>();
export function refreshAnalytics(): void {
	generation++;
	for (const fn of subscribers) fn(generation);
}

/**
 * Like useJson, and reloads after refreshAnalytics(). A new URL reads as loading from the render that
 * names it (not one frame later, when the request starts), so a page never looks settled in between.
 */
export function useAnalyticsJson<T>(url: string | null): Loadable<T> {
	const [gen, setGen] = useState(generation);
	const [state, setState] = useState<Loadable<T> & { url: string | null }>({ data: null, error: null, loading: url !== null, url });
	useEffect(() => {
		subscribers.add(setGen);
		return () => void subscribers.delete(setGen);
	}, []);
	useEffect(() => {
		if (url === null) {
			setState({ data: null, error: null, loading: false, url });
			return;
		}
		const ctl = new AbortController();
		setState((s) => ({ data: s.data, error: null, loading: true, url }));
		getJson<T>(url, ctl.signal).then(
			(data) => setState({ data, error: null, loading: false, url }),
			(error: unknown) => {
				if (ctl.signal.aborted) return;
				setState({ data: null, error: error instanceof Error ? error : new Error(String(error)), loading: false, url });
			},
		);
		return () => ctl.abort();
	}, [url, gen]);
	if (state.url !== url) return { data: url === null ? null : state.data, error: null, loading: url !== null };
	return state;
}

/** True for the 404 `no_results` of a site without a complete nightly run. */
export const isNoResults = (e: Error | null | undefined): boolean => e instanceof HttpError && e.status === 404 && e.code === "no_results";

/** Panel props of an analytics answer: a missing run is an empty state, not an error. */
export function states(res: Loadable<unknown>, empty: string | false = false): { loading: boolean; error: Error | null; empty: string | false } {
	if (isNoResults(res.error)) return { loading: false, error: null, empty: NOT_YET };
	return { loading: res.loading, error: res.error, empty: res.data ? empty : false };
}

export const NOT_YET = "Not computed yet: this comes from the nightly customer analytics.";
export const NIGHTLY_TEXT =
	"No customer analytics yet. Segments, cohorts, market basket and lifetime value are computed by a nightly run after 03:00 (site time) from the orders up to the day before; they show here once the first run has completed.";

// ─── the nightly run ─────────────────────────────────────────────────────────────────────────────

type RunState = { state: "idle" } | { state: "running"; id: string | null; run: AnalyticsRun | null } | { state: "failed"; message: string };

/** Admins: starts a run for yesterday and follows it; when it completes every analytics answer reloads. */
export function RunNightly() {
	const { view } = useApp();
	const [s, setS] = useState<RunState>({ state: "idle" });
	const live = useRef(true);
	useEffect(
		() => () => {
			live.current = false;
		},
		[],
	);
	const start = async () => {
		setS({ state: "running", id: null, run: null });
		try {
			const started = await postJson<{ id: string }>(apiUrl("/jobs/nightly/run", { site: view.site }));
			for (;;) {
				if (!live.current) return;
				await new Promise((ok) => setTimeout(ok, 1500));
				const run = await getJson<AnalyticsRun>(apiUrl(`/jobs/${encodeURIComponent(started.id)}`, { site: view.site }));
				if (!live.current) return;
				if (run.status === "complete") {
					setS({ state: "idle" });
					refreshAnalytics();
					return;
				}
				if (run.status === "errored") {
					setS({ state: "failed", message: run.error ?? "the run failed" });
					return;
				}
				setS({ state: "running", id: started.id, run });
			}
		} catch (error) {
			if (live.current) setS({ state: "failed", message: error instanceof Error ? error.message : String(error) });
		}
	};
	const step = s.state === "running" ? s.run?.steps.at(-1) : undefined;
	return (
		<span class="run-nightly">
			<button type="button" onClick={start} disabled={s.state === "running"} data-run-nightly>
				{s.state === "running" ? "Running…" : "Run the analytics now"}
			</button>{" "}
			<span class="muted small" role="status" aria-live="polite" data-run-state={s.state}>
				{s.state === "running" ? (s.run ? `${s.run.status}${step ? `: ${words(step.step)}` : ""} (as of ${s.run.as_of})` : "starting…") : s.state === "failed" ? <span class="err">Could not run: {s.message}</span> : "It reads every order: seconds on a small store, minutes on a large one."}
			</span>
		</span>
	);
}

/** The "no run yet" panel: what the analytics are, when they run, and for admins a button to run them now. */
export function NightlyEmpty({ id = "nightly", title = "Customer analytics" }: { id?: string; title?: string }) {
	const { role } = useApp();
	return <Panel id={id} title={title} wide empty={NIGHTLY_TEXT} note={role === "admin" ? <RunNightly /> : "An admin can also start a run from the dashboard."} />;
}

/** "Nightly run of <day>": the run an analytics panel shows. */
export function AsOf({ day }: { day: string | null | undefined }) {
	if (!day) return null;
	return <span class="muted small as-of">Nightly run of {day}</span>;
}

// ─── formatting ──────────────────────────────────────────────────────────────────────────────────

/** A fraction 0–1 as a percent ("12.3 %"); "–" for null. */
export const frac = (f: number | null | undefined, currency = "EUR") => formatValue(f === null || f === undefined ? null : f * 100, "percent", currency);
export const lift = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? "–" : decimal(x, 2));
/** A segment name for reading: "Cannot_Lose" → "Cannot Lose". */
export const segmentName = (s: string) => (s === "(none)" ? "Not scored" : words(s));

/** An item of a rule or bundle: a link to the product (product level) or the category's name. */
export function Item({ item, level }: { item: string; level: "product" | "category" }) {
	const { view } = useApp();
	if (level === "category") return <span class="item">{words(item)}</span>;
	return (
		<a href={pageUrl(`/products/${encodeURIComponent(item)}`, view)} class="item" data-product={item}>
			{item}
		</a>
	);
}

export function Items({ items, level }: { items: string[]; level: "product" | "category" }) {
	return (
		<span class="items">
			{items.map((i, n) => (
				<span key={i}>
					{n > 0 && " + "}
					<Item item={i} level={level} />
				</span>
			))}
		</span>
	);
}

/** A number of an API answer with where it came from (data-src / data-path, raw in data-value). */
export function Src({ src, path, value, children }: { src: string; path: string; value: number | string | null; children: ComponentChildren }) {
	return (
		<span data-src={src} data-path={path} data-value={value === null ? "" : String(value)}>
			{children}
		</span>
	);
}

// ─── heat-map tables ─────────────────────────────────────────────────────────────────────────────

export interface HeatCell {
	/** Shade, −1…1 (negative: the diverging second hue); null: no shade. */
	shade: number | null;
	text: string;
	/** The whole story of the cell (tooltip and accessible name). */
	title?: string;
	/** Marked as observed only in part (a period in progress). */
	partial?: boolean;
	/** The CSV's value. */
	raw: Cell;
	/** Extra attributes of the cell's text (data-src, data-path, data-value). */
	attrs?: Record<string, string>;
}

export interface HeatColumn {
	key: string;
	label: string;
	/** The CSV header (default: label). */
	csv?: string;
}

export interface HeatLead<R> {
	key: string;
	label: string;
	value: (row: R) => Cell;
	format?: (row: R) => ComponentChildren;
	numeric?: boolean;
}

export interface HeatTableProps<R> {
	id: string;
	caption: string;
	filename: string;
	rows: R[];
	/** Columns before the heat cells (row header first). */
	lead: HeatLead<R>[];
	columns: HeatColumn[];
	cell: (row: R, col: number) => HeatCell | null;
	/** Show only the last `rows` rows and the first `cols` columns until "Show all" (the CSV has all). */
	limit?: { rows?: number; cols?: number; lastRows?: boolean };
	/** Cells without data: "" in the CSV, this in the table. */
	blank?: string;
}

/**
 * A table whose cells carry their value as text and a shade (single hue for 0…1, a second hue for
 * negatives: blue and orange, distinguishable with any colour vision), with the same CSV button as
 * DataTable (raw values).
 */
export function HeatTable<R>({ id, caption, filename, rows, lead, columns, cell, limit, blank = "" }: HeatTableProps<R>) {
	const [all, setAll] = useState(false);
	const rowCap = !all && limit?.rows && rows.length > limit.rows ? limit.rows : rows.length;
	const colCap = !all && limit?.cols && columns.length > limit.cols ? limit.cols : columns.length;
	const shownRows = rowCap < rows.length ? (limit?.lastRows ? rows.slice(rows.length - rowCap) : rows.slice(0, rowCap)) : rows;
	const shownCols = columns.slice(0, colCap);
	const cut = shownRows.length < rows.length || shownCols.length < columns.length;
	const save = () =>
		downloadCsv(
			filename,
			toCsv(
				[...lead.map((l) => l.label), ...columns.map((c) => c.csv ?? c.label)],
				rows.map((r) => [...lead.map((l) => l.value(r)), ...columns.map((_, j) => cell(r, j)?.raw ?? null)]),
			),
		);
	return (
		<div class="table-block">
			<div class="table-scroll" tabIndex={0} role="region" aria-label={caption}>
				<table data-table={id} class="heat">
					<caption class="sr-only">{caption}</caption>
					<thead>
						<tr>
							{lead.map((l, i) => (
								<th scope="col" key={l.key} class={[l.numeric && "num", i === 0 && "sticky"].filter(Boolean).join(" ") || undefined}>
									{l.label}
								</th>
							))}
							{shownCols.map((c) => (
								<th scope="col" class="num" key={c.key}>
									{c.label}
								</th>
							))}
						</tr>
					</thead>
					<tbody>
						{shownRows.map((r, i) => (
							<tr key={i}>
								{lead.map((l, n) =>
									n === 0 ? (
										<th scope="row" key={l.key} class="sticky">
											{l.format ? l.format(r) : String(l.value(r) ?? "")}
										</th>
									) : (
										<td key={l.key} class={l.numeric ? "num" : undefined}>
											{l.format ? l.format(r) : String(l.value(r) ?? "")}
										</td>
									),
								)}
								{shownCols.map((c) => {
									const j = columns.indexOf(c);
									const h = cell(r, j);
									if (!h) return <td key={c.key} class="num hc empty">{blank}</td>;
									const v = h.shade === null ? null : Math.max(-1, Math.min(1, h.shade));
									const cls = ["num", "hc", v !== null && v < 0 ? "neg" : null, v !== null && Math.abs(v) > 0.78 ? "strong" : null, h.partial ? "partial" : null].filter(Boolean).join(" ");
									return (
										<td key={c.key} class={cls} style={v === null ? undefined : { "--v": `${Math.round(Math.abs(v) * 100)}%` }} title={h.title}>
											<span {...(h.attrs ?? {})}>{h.text}</span>
											{h.partial && (
												<>
													<span aria-hidden="true">*</span>
													<span class="sr-only"> (partial)</span>
												</>
											)}
										</td>
									);
								})}
							</tr>
						))}
					</tbody>
				</table>
			</div>
			<div class="table-actions">
				{cut && (
					<button type="button" class="link-button" onClick={() => setAll(true)}>
						Show all {rows.length} rows × {columns.length} columns
					</button>
				)}
				<button type="button" class="link-button" onClick={save} data-csv={filename}>
					Download CSV{cut ? " (all)" : ""}
				</button>
			</div>
		</div>
	);
}

/** The colour key of a heat table: a ramp from 0 to `max`, and what the asterisk means. */
export function HeatLegend({ from, to, partial, diverging }: { from: string; to: string; partial?: boolean; diverging?: { low: string; high: string } }) {
	return (
		<p class="heat-legend muted small">
			{diverging ? (
				<>
					<span class="ramp neg" aria-hidden="true" /> {diverging.low} · <span class="ramp" aria-hidden="true" /> {diverging.high}
				</>
			) : (
				<>
					{from} <span class="ramp" aria-hidden="true" /> {to}
				</>
			)}
			{partial && <> · * period in progress (observed in part)</>}
		</p>
	);
}

/** Two toggle buttons as a radio group (aria-pressed), e.g. monthly / weekly. */
export function Toggle<T extends string>({ label, options, value, onChange, name }: { label: string; name: string; options: readonly { id: T; label: string }[]; value: T; onChange: (v: T) => void }) {
	return (
		<div class="toggle" role="group" aria-label={label} data-toggle={name}>
			<span class="muted small">{label}</span>
			{options.map((o) => (
				<button type="button" key={o.id} aria-pressed={o.id === value ? "true" : "false"} onClick={() => o.id !== value && onChange(o.id)} data-value={o.id}>
					{o.label}
				</button>
			))}
		</div>
	);
}
