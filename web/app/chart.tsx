/**
 * The one chart component: uPlot lines over periods (x = period index, labelled with the period), a
 * legend (uPlot's, with values as the cursor moves) and a tooltip plugin; colours from the theme, the
 * comparison dashed and a target dotted so they differ by more than colour. The numbers are also one
 * click away as a table with a CSV download.
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatValue } from "./format";
import { LOCALE } from "./locale";
import { cssVar, SERIES_COLORS, useTheme } from "./theme";
import { DataTable } from "./ui";

export interface ChartSeries {
	label: string;
	values: (number | null)[];
	/** "dash" for a comparison, "dot" for a target, "bar" for bars; "band" for an edge of a shaded band (no line, no legend entry; see ChartProps.bands). */
	style?: "line" | "dash" | "dot" | "bar" | "band";
	/** Index into the theme's palette (default: the series' position). */
	color?: number;
}

export interface ChartProps {
	/** One label per x point (the period: 2026-11-27, 2026-W48, 2026-11, 2026-Q4, or a time). */
	labels: string[];
	/** Text of the tooltip's and table's first column for point i (default: labels[i]). */
	detail?: (i: number) => string;
	series: ChartSeries[];
	unit: string;
	currency: string;
	title: string;
	height?: number;
	/** File name of the table's CSV download. */
	filename: string;
	id?: string;
	/** Shaded areas between two series (indices into `series`, usually of style "band"), e.g. a forecast's 95% and 80% intervals; opacity 0–1 of the upper series' colour. */
	bands?: { upper: number; lower: number; opacity: number }[];
	/** Extra data-* attributes on the figure (what a caption or a test needs to find the plotted numbers). */
	attrs?: Record<`data-${string}`, string>;
}

const SHORT_DAY = new Intl.DateTimeFormat(LOCALE, { month: "short", day: "numeric", timeZone: "UTC" });
const SHORT_MONTH = new Intl.DateTimeFormat(LOCALE, { month: "short", year: "2-digit", timeZone: "UTC" });

/** Axis text for a period label. */
export function shortPeriod(p: string): string {
	if (/^\d{4}-\d{2}-\d{2}$/.test(p)) return SHORT_DAY.format(Date.parse(`${p}T00:00:00Z`));
	if (/^\d{4}-\d{2}$/.test(p)) return SHORT_MONTH.format(Date.parse(`${p}-01T00:00:00Z`));
	if (/^\d{4}-W\d{2}$/.test(p)) return `W${p.slice(6)} ’${p.slice(2, 4)}`;
	if (/^\d{4}-Q\d$/.test(p)) return `${p.slice(5)} ’${p.slice(2, 4)}`;
	return p;
}

/** Shows the hovered point's values in a box that follows the cursor. */
function tooltipPlugin(fmt: (v: number | null) => string, detail: (i: number) => string): uPlot.Plugin {
	let tip: HTMLDivElement;
	return {
		hooks: {
			init: (u) => {
				tip = document.createElement("div");
				tip.className = "chart-tip";
				tip.setAttribute("role", "status");
				tip.hidden = true;
				u.over.append(tip);
				u.over.addEventListener("mouseleave", () => (tip.hidden = true));
			},
			setCursor: (u) => {
				const i = u.cursor.idx;
				if (i === null || i === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
					tip.hidden = true;
					return;
				}
				tip.replaceChildren();
				const head = document.createElement("b");
				head.textContent = detail(i);
				tip.append(head);
				u.series.forEach((s, k) => {
					if (k === 0 || !s.show) return;
					const row = document.createElement("div");
					const mark = document.createElement("i");
					mark.style.background = String(s.stroke && typeof s.stroke === "function" ? s.stroke(u, k) : s.stroke);
					row.append(mark, `${s.label}: ${fmt((u.data[k]?.[i] as number | null | undefined) ?? null)}`);
					tip.append(row);
				});
				tip.hidden = false;
				const w = u.over.clientWidth;
				const left = u.cursor.left ?? 0;
				tip.style.left = `${Math.min(left + 12, Math.max(0, w - tip.offsetWidth))}px`;
				tip.style.top = `${Math.max(0, (u.cursor.top ?? 0) - tip.offsetHeight - 8)}px`;
			},
		},
	};
}

/** Hides the legend rows of band edges: the band is read from its shading and the caption, the legend names the forecast line. */
function bandLegendPlugin(series: ChartSeries[]): uPlot.Plugin {
	return {
		hooks: {
			init: (u) => {
				const rows = u.root.querySelectorAll<HTMLElement>(".u-legend .u-series");
				series.forEach((s, k) => {
					const row = rows[k + 1];
					if (s.style === "band" && row) row.style.display = "none";
				});
			},
		},
	};
}

/** "#0060a0" + opacity → "#0060a059" (the palette is hex). */
function withOpacity(color: string, opacity: number): string {
	const a = Math.round(Math.max(0, Math.min(1, opacity)) * 255).toString(16).padStart(2, "0");
	return /^#[0-9a-f]{6}$/i.test(color) ? `${color}${a}` : color;
}

export function Chart({ labels, detail, series, unit, currency, title, height = 200, filename, id, bands, attrs }: ChartProps) {
	const box = useRef<HTMLDivElement>(null);
	const theme = useTheme();
	const describe = detail ?? ((i: number) => labels[i] ?? "");

	useEffect(() => {
		const el = box.current;
		if (!el) return;
		const fg = cssVar("--muted") || "#666";
		const grid = cssVar("--line") || "#ddd";
		const palette = SERIES_COLORS[theme];
		const fmt = (v: number | null) => formatValue(v, unit, currency);
		const n = labels.length;
		const opts: uPlot.Options = {
			width: Math.max(200, el.clientWidth),
			height,
			legend: { show: true, live: true },
			cursor: { points: { size: 7 }, drag: { x: false, y: false } },
			scales: {
				x: { time: false, range: () => [-0.5, Math.max(0.5, n - 0.5)] },
				// Bars start at zero (a bar's length is its value).
				...(series.some((s) => s.style === "bar") ? { y: { range: (_u: uPlot, min: number, max: number) => uPlot.rangeNum(Math.min(0, min), Math.max(0, max), 0.1, true) } } : {}),
			},
			axes: [
				{
					stroke: fg,
					grid: { show: false },
					ticks: { stroke: grid },
					space: Math.max(48, 7 * Math.max(0, ...labels.map((l) => shortPeriod(l).length)) + 14),
					incrs: [1, 2, 3, 4, 5, 7, 10, 14, 15, 20, 26, 30, 52, 60, 90, 120, 180, 365],
					values: (_u, splits) => splits.map((s) => (Number.isInteger(s) && s >= 0 && s < n ? shortPeriod(labels[s] ?? "") : "")),
				},
				{
					stroke: fg,
					grid: { stroke: grid, width: 1 },
					ticks: { show: false },
					size: 64,
					values: (_u, splits) => splits.map((v) => formatValue(v, unit, currency, true)),
				},
			],
			series: [
				{ label: "Period", value: (_u, v) => (v === null || v === undefined ? "–" : describe(v)) },
				...series.map((s, k) => {
					const color = palette[(s.color ?? k) % palette.length] ?? "#0060a0";
					if (s.style === "band") {
						return { label: s.label, stroke: color, width: 0, points: { show: false }, spanGaps: false, value: (_u: uPlot, v: number | null) => fmt(v) } satisfies uPlot.Series;
					}
					return {
						label: s.label,
						stroke: color,
						width: s.style === "dot" ? 1.5 : 2,
						dash: s.style === "dash" ? [6, 4] : s.style === "dot" ? [2, 3] : undefined,
						fill: s.style === "bar" ? `${color}99` : undefined,
						paths: s.style === "bar" ? uPlot.paths.bars?.({ size: [0.6, 40] }) : undefined,
						points: { show: n <= 40 && s.style !== "bar", size: 4, fill: color },
						spanGaps: false,
						value: (_u: uPlot, v: number | null) => fmt(v),
					} satisfies uPlot.Series;
				}),
			],
			plugins: [tooltipPlugin(fmt, describe), ...(bands?.length ? [bandLegendPlugin(series)] : [])],
			...(bands?.length
				? { bands: bands.map((b) => ({ series: [b.upper + 1, b.lower + 1] as [number, number], fill: withOpacity(palette[(series[b.upper]?.color ?? b.upper) % palette.length] ?? "#0060a0", b.opacity) })) }
				: {}),
		};
		const data: uPlot.AlignedData = [labels.map((_, i) => i), ...series.map((s) => s.values.map((v) => (v === null || !Number.isFinite(v) ? null : v)))];
		const u = new uPlot(opts, data, el);
		const ro = new ResizeObserver(() => {
			const w = Math.max(200, el.clientWidth);
			if (Math.abs(w - u.width) > 1) u.setSize({ width: w, height });
		});
		ro.observe(el);
		return () => {
			ro.disconnect();
			u.destroy();
		};
	}, [labels, series, unit, currency, height, theme, bands]);

	const summary = `${title}: ${series.map((s) => s.label).join(", ")} over ${labels.length} points`;
	return (
		<figure class="chart" data-chart={id} {...attrs}>
			<div ref={box} class="chart-box" role="img" aria-label={summary} />
			<details class="chart-data">
				<summary>Data table</summary>
				<DataTable
					caption={title}
					filename={filename}
					rows={labels.map((_, i) => i)}
					columns={[
						{ key: "period", label: "Period", value: (i) => describe(i) },
						...series.map((s, k) => ({ key: `s${k}`, label: s.label, numeric: true, value: (i: number) => s.values[i] ?? null, format: (i: number) => formatValue(s.values[i] ?? null, unit, currency) })),
					]}
				/>
			</details>
		</figure>
	);
}
