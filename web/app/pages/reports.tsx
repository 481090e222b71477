/**
 * Reports (admin, executive): render any report on demand and preview it (the same HTML the email
 * carries, in a sandboxed frame: nothing in it runs), download it as HTML, JSON or CSV, browse and preview
 * the archive (GET /api/v1/reports), and manage the scheduled sends (GET/POST/PUT/DELETE
 * /api/v1/reports/subscriptions) with each subscription's latest send and its history, failed deliveries
 * included (…/{id}/sends).
 */
import { useEffect, useState } from "preact/hooks";
import { apiUrl, getText, sendJson, useJson } from "../api";
import { useApp } from "../state";
import { DataTable, Panel } from "../ui";

type Kind = "executive" | "product" | "daily" | "financial";
type Cadence = "daily" | "weekly" | "monthly";
type Channel = "email" | "slack" | "webhook";

const KINDS: { id: Kind; label: string; cadences: Cadence[] }[] = [
	{ id: "executive", label: "Executive", cadences: ["weekly", "monthly"] },
	{ id: "daily", label: "Daily metrics", cadences: ["daily"] },
	{ id: "financial", label: "Monthly financial", cadences: ["monthly"] },
	{ id: "product", label: "Product deep dive", cadences: ["daily", "weekly", "monthly"] },
];
const kindLabel = (k: string) => KINDS.find((x) => x.id === k)?.label ?? k;

interface ArchivedReport {
	kind: Kind;
	subject: string | null;
	period: string;
	title: string;
	key: string;
	html_key: string;
	generated_at: number;
	bytes: number;
	html_bytes: number;
}
interface Send {
	subscription_id: string;
	period: string;
	status: "pending" | "failed" | "sent" | "dead" | "cancelled";
	attempts: number;
	last_error: string | null;
	last_status: number | null;
	delivered_to: string[];
	report_key: string | null;
	due_at: number;
	sent_at: number | null;
}
interface Subscription {
	id: string;
	kind: Kind;
	sku: string | null;
	channel: Channel;
	recipients: string[];
	url: string | null;
	url_hint: string | null;
	secret_hint: string | null;
	cadence: Cadence;
	send_time: string;
	timezone: string;
	weekday: number;
	day_of_month: number;
	enabled: boolean;
	next_send_at: number | null;
	next_period: string | null;
	last_send: Send | null;
}

const pad = (n: number) => String(n).padStart(2, "0");
/** The latest complete period of a kind, in UTC terms good enough for a default (the API checks it). */
function defaultPeriod(kind: Kind, now = new Date()): string {
	const y = new Date(now.getTime() - 86_400_000);
	if (kind === "daily") return `${y.getUTCFullYear()}-${pad(y.getUTCMonth() + 1)}-${pad(y.getUTCDate())}`;
	const m = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
	return `${m.getUTCFullYear()}-${pad(m.getUTCMonth() + 1)}`;
}
const when = (ms: number | null, tz: string) => (ms === null ? "–" : new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short", timeZone: tz }).format(ms));
const size = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KB`);

export default function ReportsPage() {
	const { view, site } = useApp();
	const [preview, setPreview] = useState<{ title: string; html: string; links: { label: string; href: string }[] } | null>(null);
	const [archiveVersion, setArchiveVersion] = useState(0);
	return (
		<div class="page" data-page="reports">
			<h1 class="page-title">
				Reports <span class="muted">executive, daily metrics, monthly financial and product reports: on demand, archived, and sent on a schedule</span>
			</h1>
			<div class="grid two">
				<RenderPanel
					site={view.site}
					onPreview={(p) => {
						setPreview(p);
						setArchiveVersion((n) => n + 1);
					}}
				/>
				<PreviewPanel preview={preview} />
				<ArchivePanel site={view.site} timezone={site.timezone} version={archiveVersion} onPreview={setPreview} />
				<SubscriptionsPanel site={view.site} timezone={site.timezone} />
			</div>
		</div>
	);
}

function RenderPanel({ site, onPreview }: { site: string; onPreview: (p: { title: string; html: string; links: { label: string; href: string }[] }) => void }) {
	const [kind, setKind] = useState<Kind>("executive");
	const [period, setPeriod] = useState(defaultPeriod("executive"));
	const [sku, setSku] = useState("");
	const [busy, setBusy] = useState(false);
	const [error, setError] = useState<string | null>(null);
	const query = (format: string) => apiUrl(`/reports/${kind}`, { site, period, sku: kind === "product" ? sku : null, format });
	const render = async (e: Event) => {
		e.preventDefault();
		setBusy(true);
		setError(null);
		try {
			const html = await getText(query("html"), "text/html");
			onPreview({
				title: `${kindLabel(kind)} ${kind === "product" ? `${sku} ` : ""}${period}`,
				html,
				links: [
					{ label: "HTML", href: query("html") },
					{ label: "JSON", href: query("json") },
					{ label: "CSV (every table)", href: query("csv") },
				],
			});
		} catch (err) {
			setError(err instanceof Error ? err.message : String(err));
		} finally {
			setBusy(false);
		}
	};
	return (
		<Panel id="report-render" title="Render a report">
			<form class="form" data-form="render" onSubmit={render}>
				<label>
					Report
					<select
						name="kind"
						value={kind}
						onChange={(e) => {
							const k = e.currentTarget.value as Kind;
							setKind(k);
							setPeriod(defaultPeriod(k));
						}}
					>
						{KINDS.map((k) => (
							<option value={k.id} key={k.id}>
								{k.label}
							</option>
						))}
					</select>
				</label>
				<label>
					Period
					<input name="period" value={period} required onInput={(e) => setPeriod(e.currentTarget.value)} placeholder={kind === "daily" ? "2026-12-02" : kind === "financial" ? "2026-11" : "2026-11, 2026-W48 or 2026-Q4"} />
				</label>
				{kind === "product" && (
					<label>
						SKU
						<input name="sku" value={sku} required onInput={(e) => setSku(e.currentTarget.value)} />
					</label>
				)}
				<button type="submit" disabled={busy}>
					{busy ? "Rendering…" : "Render and preview"}
				</button>
			</form>
			<p class="muted small">
				Periods are in the site's time zone: a day <code>2026-12-02</code>, an ISO week <code>2026-W48</code>, a month <code>2026-11</code> or a quarter <code>2026-Q4</code>. Each rendering is archived, replacing that period's earlier copy.
			</p>
			{error && (
				<p class="msg err" role="alert" data-render-error>
					{error}
				</p>
			)}
		</Panel>
	);
}

function PreviewPanel({ preview }: { preview: { title: string; html: string; links: { label: string; href: string }[] } | null }) {
	return (
		<Panel
			id="report-preview"
			title={preview ? `Preview: ${preview.title}` : "Preview"}
			wide
			empty={preview ? false : "Render a report or pick one from the archive to preview it here."}
			actions={
				preview && (
					<span class="links">
						{preview.links.map((l) => (
							<a key={l.label} href={l.href} target="_blank" rel="noopener" data-download={l.label}>
								{l.label}
							</a>
						))}
					</span>
				)
			}
		>
			{preview && <iframe class="report-frame" title={`Report preview: ${preview.title}`} sandbox="" srcdoc={preview.html} data-report-preview={preview.title} style="width:100%;height:720px;border:1px solid var(--line, #ddd);background:#fff" />}
		</Panel>
	);
}

function ArchivePanel({ site, timezone, version, onPreview }: { site: string; timezone: string; version: number; onPreview: (p: { title: string; html: string; links: { label: string; href: string }[] }) => void }) {
	const src = apiUrl("/reports", { site, limit: "100" });
	const [reload, setReload] = useState(0);
	useEffect(() => setReload((n) => n + 1), [version]);
	const res = useJson<{ reports: ArchivedReport[] }>(`${src}&_=${reload}`);
	const [error, setError] = useState<string | null>(null);
	const open = async (r: ArchivedReport) => {
		setError(null);
		try {
			const html = await getText(apiUrl("/reports/archive", { site, key: r.key, format: "html" }), "text/html");
			onPreview({ title: r.title, html, links: [{ label: "HTML", href: apiUrl("/reports/archive", { site, key: r.key, format: "html" }) }, { label: "JSON", href: apiUrl("/reports/archive", { site, key: r.key }) }] });
		} catch (err) {
			setError(err instanceof Error ? err.message : String(err));
		}
	};
	const rows = res.data?.reports ?? [];
	return (
		<Panel id="report-archive" title="Archive" wide loading={res.loading && !res.data} error={res.error} empty={res.data && rows.length === 0 ? "No report archived yet: render one above, or wait for a scheduled send." : false}>
			{error && (
				<p class="msg err" role="alert">
					{error}
				</p>
			)}
			<DataTable
				id="reports-archive"
				caption="Archived reports, newest first"
				filename={`reports_${site}.csv`}
				rows={rows}
				limit={20}
				columns={[
					{ key: "title", label: "Report", wrap: true, value: (r) => r.title },
					{ key: "kind", label: "Kind", value: (r) => kindLabel(r.kind) },
					{ key: "period", label: "Period", value: (r) => r.period },
					{ key: "generated_at", label: "Generated", value: (r) => r.generated_at, format: (r) => when(r.generated_at, timezone) },
					{ key: "bytes", label: "Size", numeric: true, value: (r) => r.html_bytes, format: (r) => size(r.html_bytes) },
					{
						key: "open",
						label: "",
						value: (r) => r.key,
						format: (r) => (
							<button type="button" class="link-button" data-preview-key={r.key} onClick={() => void open(r)}>
								Preview
							</button>
						),
					},
				]}
			/>
		</Panel>
	);
}

const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const cadenceText = (s: Subscription) =>
	s.cadence === "daily" ? `daily at ${s.send_time}` : s.cadence === "weekly" ? `${WEEKDAYS[s.weekday - 1] ?? "Monday"}s at ${s.send_time}` : `monthly on day ${s.day_of_month} at ${s.send_time}`;
const target = (s: Subscription) => (s.channel === "email" ? s.recipients.join(", ") : s.channel === "slack" ? `Slack ${s.url_hint ?? ""}` : `${s.url ?? ""}${s.secret_hint ? ` (secret ${s.secret_hint})` : ""}`);

function SubscriptionsPanel({ site, timezone }: { site: string; timezone: string }) {
	const [reload, setReload] = useState(0);
	const res = useJson<{ subscriptions: Subscription[] }>(`${apiUrl("/reports/subscriptions", { site })}&_=${reload}`);
	const [open, setOpen] = useState<string | null>(null);
	const [error, setError] = useState<string | null>(null);
	const subs = res.data?.subscriptions ?? [];
	const remove = async (s: Subscription) => {
		setError(null);
		try {
			await sendJson("DELETE", apiUrl(`/reports/subscriptions/${s.id}`, { site }));
			setReload((n) => n + 1);
		} catch (err) {
			setError(err instanceof Error ? err.message : String(err));
		}
	};
	const toggle = async (s: Subscription) => {
		setError(null);
		try {
			await sendJson("PUT", apiUrl(`/reports/subscriptions/${s.id}`, { site }), { enabled: !s.enabled });
			setReload((n) => n + 1);
		} catch (err) {
			setError(err instanceof Error ? err.message : String(err));
		}
	};
	return (
		<Panel id="report-subscriptions" title="Scheduled reports" wide loading={res.loading && !res.data} error={res.error}>
			<NewSubscription site={site} timezone={timezone} onCreated={() => setReload((n) => n + 1)} />
			{error && (
				<p class="msg err" role="alert">
					{error}
				</p>
			)}
			{res.data && subs.length === 0 ? (
				<p class="msg">No scheduled report yet. The architecture document's schedule: the daily metrics report at 08:00, the executive report on Mondays, the financial report on the 1st.</p>
			) : (
				<DataTable
					id="report-subscriptions"
					caption="Subscriptions, with their next and latest send"
					filename={`report_subscriptions_${site}.csv`}
					rows={subs}
					columns={[
						{ key: "kind", label: "Report", value: (s) => `${kindLabel(s.kind)}${s.sku ? ` ${s.sku}` : ""}` },
						{ key: "cadence", label: "When", value: (s) => `${cadenceText(s)} (${s.timezone})` },
						{ key: "channel", label: "Channel", value: (s) => s.channel },
						{ key: "target", label: "To", wrap: true, value: (s) => target(s) },
						{ key: "next", label: "Next send", value: (s) => s.next_send_at ?? 0, format: (s) => (s.enabled ? `${when(s.next_send_at, s.timezone)} (${s.next_period ?? "–"})` : "paused") },
						{
							key: "last",
							label: "Latest send",
							wrap: true,
							value: (s) => s.last_send?.status ?? "",
							format: (s) =>
								s.last_send ? (
									<span data-send-status={s.last_send.status} data-subscription={s.id}>
										<span class={s.last_send.status === "sent" ? "badge" : s.last_send.status === "pending" ? "badge muted" : "badge warn"}>{s.last_send.status}</span> {s.last_send.period}
										{s.last_send.last_error && <span class="muted small"> — {s.last_send.last_error}</span>}
									</span>
								) : (
									"none yet"
								),
						},
						{
							key: "actions",
							label: "",
							value: (s) => s.id,
							format: (s) => (
								<span class="links">
									<button type="button" class="link-button" data-sends={s.id} onClick={() => setOpen(open === s.id ? null : s.id)}>
										History
									</button>
									<button type="button" class="link-button" data-toggle={s.id} onClick={() => void toggle(s)}>
										{s.enabled ? "Pause" : "Resume"}
									</button>
									<button type="button" class="link-button" data-delete={s.id} onClick={() => void remove(s)}>
										Delete
									</button>
								</span>
							),
						},
					]}
				/>
			)}
			{open && <SendHistory site={site} id={open} timezone={timezone} />}
		</Panel>
	);
}

function SendHistory({ site, id, timezone }: { site: string; id: string; timezone: string }) {
	const res = useJson<{ sends: Send[] }>(apiUrl(`/reports/subscriptions/${id}/sends`, { site }));
	if (res.loading && !res.data) return <div class="skeleton" aria-label="Loading" />;
	if (res.error)
		return (
			<p class="msg err" role="alert">
				Could not load the send history: {res.error.message}
			</p>
		);
	const sends = res.data?.sends ?? [];
	return (
		<div data-send-history={id}>
			<h3>Send history</h3>
			{sends.length === 0 ? (
				<p class="msg">Nothing sent yet.</p>
			) : (
				<DataTable
					id={`sends-${id}`}
					caption="Every period claimed, newest first"
					filename={`report_sends_${id}.csv`}
					rows={sends}
					columns={[
						{ key: "period", label: "Period", value: (s) => s.period },
						{ key: "status", label: "Status", value: (s) => s.status, format: (s) => <span class={s.status === "sent" ? "badge" : "badge warn"}>{s.status}</span> },
						{ key: "attempts", label: "Attempts", numeric: true, value: (s) => s.attempts },
						{ key: "due_at", label: "Due", value: (s) => s.due_at, format: (s) => when(s.due_at, timezone) },
						{ key: "sent_at", label: "Sent", value: (s) => s.sent_at ?? 0, format: (s) => when(s.sent_at, timezone) },
						{ key: "error", label: "Last error", wrap: true, value: (s) => s.last_error ?? "" },
					]}
				/>
			)}
		</div>
	);
}

function NewSubscription({ site, timezone, onCreated }: { site: string; timezone: string; onCreated: () => void }) {
	const [kind, setKind] = useState<Kind>("daily");
	const [cadence, setCadence] = useState<Cadence>("daily");
	const [channel, setChannel] = useState<Channel>("email");
	const [recipients, setRecipients] = useState("");
	const [url, setUrl] = useState("");
	const [secret, setSecret] = useState("");
	const [sku, setSku] = useState("");
	const [time, setTime] = useState("08:00");
	const [tz, setTz] = useState(timezone);
	const [busy, setBusy] = useState(false);
	const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
	const cadences = KINDS.find((k) => k.id === kind)?.cadences ?? ["daily"];
	const submit = async (e: Event) => {
		e.preventDefault();
		setBusy(true);
		setMessage(null);
		try {
			const body = {
				kind,
				cadence,
				channel,
				send_time: time,
				timezone: tz,
				...(kind === "product" ? { sku } : {}),
				...(channel === "email" ? { recipients: recipients.split(/[\s,;]+/).filter(Boolean) } : { url }),
				...(channel === "webhook" ? { secret } : {}),
			};
			const created = await sendJson<Subscription>("POST", apiUrl("/reports/subscriptions", { site }), body);
			setMessage({ ok: true, text: `Subscribed: ${kindLabel(created.kind)}, ${cadenceText(created)}; first send ${when(created.next_send_at, created.timezone)} for ${created.next_period ?? "–"}.` });
			onCreated();
		} catch (err) {
			setMessage({ ok: false, text: err instanceof Error ? err.message : String(err) });
		} finally {
			setBusy(false);
		}
	};
	return (
		<form class="form" data-form="subscribe" onSubmit={submit}>
			<label>
				Report
				<select
					name="kind"
					value={kind}
					onChange={(e) => {
						const k = e.currentTarget.value as Kind;
						setKind(k);
						setCadence(KINDS.find((x) => x.id === k)?.cadences[0] ?? "daily");
					}}
				>
					{KINDS.map((k) => (
						<option value={k.id} key={k.id}>
							{k.label}
						</option>
					))}
				</select>
			</label>
			{kind === "product" && (
				<label>
					SKU
					<input name="sku" value={sku} required onInput={(e) => setSku(e.currentTarget.value)} />
				</label>
			)}
			<label>
				Every
				<select name="cadence" value={cadence} onChange={(e) => setCadence(e.currentTarget.value as Cadence)}>
					{cadences.map((c) => (
						<option value={c} key={c}>
							{c === "daily" ? "day" : c === "weekly" ? "week (Monday)" : "month (the 1st)"}
						</option>
					))}
				</select>
			</label>
			<label>
				At
				<input name="send_time" type="time" value={time} required onInput={(e) => setTime(e.currentTarget.value)} />
			</label>
			<label>
				Time zone
				<input name="timezone" value={tz} required onInput={(e) => setTz(e.currentTarget.value)} />
			</label>
			<label>
				Channel
				<select name="channel" value={channel} onChange={(e) => setChannel(e.currentTarget.value as Channel)}>
					<option value="email">Email</option>
					<option value="slack">Slack</option>
					<option value="webhook">Webhook (signed JSON)</option>
				</select>
			</label>
			{channel === "email" ? (
				<label>
					Recipients
					<input name="recipients" value={recipients} required placeholder="ana@example.com, luis@example.com" onInput={(e) => setRecipients(e.currentTarget.value)} />
				</label>
			) : (
				<label>
					URL
					<input name="url" type="url" value={url} required onInput={(e) => setUrl(e.currentTarget.value)} />
				</label>
			)}
			{channel === "webhook" && (
				<label>
					Secret
					<input name="secret" value={secret} required minLength={16} onInput={(e) => setSecret(e.currentTarget.value)} />
				</label>
			)}
			<button type="submit" disabled={busy}>
				{busy ? "Saving…" : "Subscribe"}
			</button>
			{message && (
				<p class={message.ok ? "msg" : "msg err"} role={message.ok ? "status" : "alert"} data-subscribe-result={message.ok ? "ok" : "error"}>
					{message.text}
				</p>
			)}
		</form>
	);
}

