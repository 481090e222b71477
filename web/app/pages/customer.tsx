/**
 * One customer (GET /api/v1/customers/{id}): the record, lifetime totals, an activity timeline (web
 * events, orders, refunds, tickets, survey answers), orders, the products they bought (each a link to
 * the product page), support tickets and survey responses. Name and email only when the API sends them.
 * From the nightly analytics (the profile's `analytics`): R, F and M scores, the segment and what to do,
 * the segment history, P(alive), expected orders and — not for the operations role — expected spend and CLV.
 * Admins also get the GDPR panel: download everything held on the customer (GET …/export) and erase them
 * (DELETE /api/v1/customers/{id}) after typing the id to confirm.
 */
import { useLocation, useRoute } from "preact-iso";
import { useMemo, useState } from "preact/hooks";
import { apiUrl, HttpError, sendJson, type CustomerProfile, type Loadable, type ProfileOrder } from "../api";
import { ProfilePredictions } from "../predict";
import { frac, NIGHTLY_TEXT, RunNightly, segmentName, useAnalyticsJson } from "../analytics-ui";
import { Chart } from "../chart";
import { count, country, dateOnly, dateTime, decimal, formatValue, hours, localDay, minorPerMajor, money, words } from "../format";
import { pageUrl, useApp } from "../state";
import { DataTable, Panel, Stat } from "../ui";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export default function Customer() {
	const { params } = useRoute();
	const id = params.id ?? "";
	const { view } = useApp();
	const src = apiUrl(`/customers/${encodeURIComponent(id)}`, { site: view.site });
	// Reloaded when a nightly run started from the dashboard completes (its analytics change).
	const res = useAnalyticsJson<CustomerProfile>(src);
	const p = res.data;
	const back = (
		<a class="back" href={pageUrl("/customers", view)}>
			← All customers
		</a>
	);
	if (res.error instanceof HttpError && res.error.status === 404) {
		return (
			<div class="page" data-page="customer">
				{back}
				<h1 class="page-title">Customer {id}</h1>
				<Panel id="profile" title="Not found" empty={`This site has no customer “${id}” (neither a customer record nor an order).`} />
			</div>
		);
	}
	return (
		<div class="page" data-page="customer" data-customer-id={id}>
			{back}
			<h1 class="page-title">
				Customer {id} {p?.customer.name && <span class="muted">{p.customer.name}</span>}
			</h1>
			<div class="grid two">
				<ProfilePanel res={res} src={src} />
				<Lifetime res={res} src={src} />
				<Analytics res={res} src={src} />
				<ProfilePredictions id={id} next={p?.analytics?.next_action ?? null} />
				{p && (
					<>
						<Timeline p={p} />
						<Orders p={p} />
						<Bought p={p} />
						<Tickets p={p} />
						<Surveys p={p} />
						<Privacy id={id} />
					</>
				)}
			</div>
		</div>
	);
}

type Res = Loadable<CustomerProfile>;

interface Erasure {
	pseudonym: string;
	events_erased: number;
	archive_objects_rewritten: number;
	archive_objects_deleted: number;
}

/** GDPR, admins only: export everything held on the customer, or erase them (the id typed again to confirm). */
function Privacy({ id }: { id: string }) {
	const { view, role } = useApp();
	const loc = useLocation();
	const [confirm, setConfirm] = useState("");
	const [busy, setBusy] = useState(false);
	const [error, setError] = useState<string | null>(null);
	const [done, setDone] = useState<Erasure | null>(null);
	if (role !== "admin") return null;
	const erase = async (e: Event) => {
		e.preventDefault();
		if (confirm !== id) return;
		setBusy(true);
		setError(null);
		try {
			setDone(await sendJson<Erasure>("DELETE", apiUrl(`/customers/${encodeURIComponent(id)}`, { site: view.site })));
		} catch (err) {
			setError(err instanceof Error ? err.message : String(err));
		} finally {
			setBusy(false);
		}
	};
	return (
		<Panel id="privacy" title="Personal data (GDPR)" wide note="Admins only. The export is everything held on this customer, as JSON. Erasure deletes their personal data and events everywhere (D1 and the R2 archive) and keeps their orders under a pseudonym, so revenue does not change; it cannot be undone.">
			{done ? (
				<p class="msg" role="status" data-erased={done.pseudonym}>
					Erased: {count(done.events_erased)} events, {count(done.archive_objects_rewritten + done.archive_objects_deleted)} archive objects rewritten. Their orders now belong to {done.pseudonym}.{" "}
					<a href={pageUrl("/customers", view)} onClick={(e) => (e.preventDefault(), loc.route(pageUrl("/customers", view)))}>
						Back to all customers
					</a>
				</p>
			) : (
				<>
					<p>
						<a href={apiUrl(`/customers/${encodeURIComponent(id)}/export`, { site: view.site })} download={`customer-${id}.json`} data-export>
							Download their data (JSON)
						</a>
					</p>
					<form onSubmit={(e) => void erase(e)}>
						<label>
							Type the customer id <code>{id}</code> to erase this customer
							<input name="confirm" value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} autoComplete="off" spellcheck={false} />
						</label>
						<button type="submit" disabled={busy || confirm !== id}>
							{busy ? "Erasing…" : "Erase customer"}
						</button>
					</form>
					{error && (
						<p class="msg err" role="alert">
							{error}
						</p>
					)}
				</>
			)}
		</Panel>
	);
}

function ProfilePanel({ res, src }: { res: Res; src: string }) {
	const { site } = useApp();
	const p = res.data;
	const c = p?.customer;
	return (
		<Panel id="profile" title="Profile" loading={res.loading} error={res.error}>
			{c && p && (
				<dl class="facts">
					{"name" in c && (
						<>
							<dt>Name</dt>
							<dd data-src={src} data-path="customer.name" data-value={c.name ?? ""}>
								{c.name ?? "–"}
							</dd>
						</>
					)}
					{"email" in c && (
						<>
							<dt>Email</dt>
							<dd data-src={src} data-path="customer.email" data-value={c.email ?? ""}>
								{c.email ?? "–"}
							</dd>
						</>
					)}
					<dt>Country</dt>
					<dd data-src={src} data-path="customer.country" data-value={c.country ?? ""}>
						{country(c.country)}
					</dd>
					<dt>Acquisition</dt>
					<dd data-src={src} data-path="customer.channel" data-value={c.channel ?? ""}>
						{c.channel ? words(c.channel) : "–"}
					</dd>
					<dt>Customer since</dt>
					<dd>{c.created_at === null ? "no customer record (orders only)" : dateOnly(c.created_at, site.timezone)}</dd>
					<dt>Subscription</dt>
					<dd>{c.is_subscriber === null ? "–" : c.is_subscriber ? `yes${c.subscription_status ? ` (${c.subscription_status})` : ""}` : c.subscription_status && c.subscription_status !== "none" ? `no (${c.subscription_status})` : "no"}</dd>
					<dt>First order</dt>
					<dd>{p.lifetime.first_order === null ? "–" : dateTime(p.lifetime.first_order, site.timezone)}</dd>
					<dt>Last order</dt>
					<dd>{p.lifetime.last_order === null ? "–" : dateTime(p.lifetime.last_order, site.timezone)}</dd>
				</dl>
			)}
		</Panel>
	);
}

function Lifetime({ res, src }: { res: Res; src: string }) {
	const { site } = useApp();
	const p = res.data;
	const cur = p?.currency ?? site.currency;
	// Revenue per local month from the orders (as lifetime revenue: total − tax of non-cancelled orders),
	// when the profile holds every order and they are all in the site currency.
	const monthly = useMemo(() => {
		if (!p || !p.orders.length) return null;
		if (p.orders.length !== p.lifetime.orders + p.lifetime.cancelled_orders || p.orders.some((o) => o.currency !== p.currency)) return null;
		const sums = new Map<string, number>();
		for (const o of p.orders) {
			if (o.status === "cancelled") continue;
			const month = localDay(o.placed_at, site.timezone).slice(0, 7);
			sums.set(month, (sums.get(month) ?? 0) + o.total - o.tax);
		}
		const scale = minorPerMajor(p.currency);
		if (!sums.size) return null;
		const months = [...sums.keys()].sort();
		const labels: string[] = [];
		for (let m = months[0] as string; m <= (months.at(-1) as string); ) {
			labels.push(m);
			const [y, mo] = m.split("-").map(Number) as [number, number];
			m = mo === 12 ? `${y + 1}-01` : `${y}-${String(mo + 1).padStart(2, "0")}`;
		}
		return { labels, series: [{ label: "Revenue", values: labels.map((m) => Math.round((sums.get(m) ?? 0) * scale) / scale), style: "bar" as const }] };
	}, [p, site.timezone]);
	return (
		<Panel id="lifetime" title="Lifetime" loading={res.loading} error={res.error} note={monthly ? "Per month: total − tax of the non-cancelled orders, as lifetime revenue." : undefined}>
			{p && (
				<>
					<div class="kpis">
						<Stat label="Orders" value={p.lifetime.orders} text={count(p.lifetime.orders)} src={src} path="lifetime.orders" note={p.lifetime.cancelled_orders ? `+ ${count(p.lifetime.cancelled_orders)} cancelled` : undefined} />
						<Stat label="Revenue" value={p.lifetime.revenue} text={money(p.lifetime.revenue, cur)} src={src} path="lifetime.revenue" hint="Total − tax of non-cancelled orders" />
						<Stat label="Average order value" value={p.lifetime.aov} text={formatValue(p.lifetime.aov, "currency", cur)} src={src} path="lifetime.aov" />
						<Stat label="Refunded" value={p.lifetime.refunded} text={money(p.lifetime.refunded, cur)} src={src} path="lifetime.refunded" />
					</div>
					{monthly && <Chart id="customer-revenue" title="Revenue per month" labels={monthly.labels} series={monthly.series} unit="currency" currency={cur} filename={`customer_${p.customer.id}_revenue_by_month.csv`} height={150} />}
				</>
			)}
		</Panel>
	);
}

interface Activity {
	ts: number;
	kind: string;
	what: string;
	detail: string;
}

function Timeline({ p }: { p: CustomerProfile }) {
	const { site } = useApp();
	const items = useMemo(() => {
		const out: Activity[] = [];
		for (const e of p.events) out.push({ ts: e.ts, kind: "web", what: words(e.name), detail: `${e.path} · ${words(e.channel)} · ${e.device}` });
		for (const o of p.orders) {
			out.push({ ts: o.placed_at, kind: "order", what: o.status === "cancelled" ? "Order placed (cancelled)" : "Order placed", detail: `${o.order_id} · ${money(o.total, o.currency)} · ${units(o)} item${units(o) === 1 ? "" : "s"}` });
			for (const r of o.refunds) out.push({ ts: r.created_at, kind: "refund", what: r.is_return ? "Return refunded" : "Refund", detail: `${o.order_id} · ${money(r.amount, r.currency)}${r.reason ? ` · ${r.reason}` : ""}` });
		}
		for (const t of p.tickets) {
			out.push({ ts: t.opened_at, kind: "ticket", what: "Ticket opened", detail: `${t.ticket_id}${t.category ? ` · ${t.category}` : ""}${t.channel ? ` · ${t.channel}` : ""}` });
			if (t.resolved_at !== null) out.push({ ts: t.resolved_at, kind: "ticket", what: "Ticket resolved", detail: `${t.ticket_id} · after ${hours(t.resolved_at - t.opened_at)}` });
		}
		for (const s of p.surveys) out.push({ ts: s.responded_at, kind: "survey", what: `${s.kind.toUpperCase()} answer: ${s.score}`, detail: `${s.kind === "nps" ? "of 10" : "of 5"}${s.order_id ? ` · ${s.order_id}` : ""}` });
		return out.sort((a, b) => b.ts - a.ts);
	}, [p]);
	const capped = p.events.length >= 200 || p.orders.length >= 500;
	return (
		<Panel id="timeline" title="Activity timeline" wide empty={items.length ? false : "No activity recorded."} note={`Newest first: signed-in web events, orders, refunds, tickets and survey answers${capped ? " (the newest 200 web events and 500 orders)" : ""}.`}>
			{items.length > 0 && (
				<DataTable
					id="timeline"
					caption="Activity, newest first"
					filename={`customer_${p.customer.id}_timeline.csv`}
					rows={items}
					limit={15}
					columns={[
						{ key: "when", label: "When", value: (a) => iso(a.ts), format: (a) => dateTime(a.ts, site.timezone) },
						{ key: "kind", label: "Kind", value: (a) => a.kind },
						{ key: "what", label: "What", value: (a) => a.what },
						{ key: "detail", label: "Detail", wrap: true, value: (a) => a.detail },
					]}
				/>
			)}
		</Panel>
	);
}

const units = (o: ProfileOrder) => o.items.reduce((n, i) => n + i.qty, 0);
const refunded = (o: ProfileOrder) => Math.round(o.refunds.reduce((n, r) => n + r.amount, 0) * minorPerMajor(o.currency)) / minorPerMajor(o.currency);

function Orders({ p }: { p: CustomerProfile }) {
	const { site } = useApp();
	return (
		<Panel id="orders" title={`Orders (${count(p.orders.length)})`} wide empty={p.orders.length ? false : "No orders."}>
			{p.orders.length > 0 && (
				<DataTable
					id="orders"
					caption="Orders, newest first"
					filename={`customer_${p.customer.id}_orders.csv`}
					rows={p.orders}
					limit={10}
					columns={[
						{ key: "order", label: "Order", value: (o) => o.order_id },
						{ key: "placed", label: "Placed", value: (o) => iso(o.placed_at), format: (o) => dateTime(o.placed_at, site.timezone) },
						{ key: "status", label: "Status", value: (o) => o.status },
						{ key: "channel", label: "Channel", value: (o) => o.channel, format: (o) => (o.channel ? words(o.channel) : "–") },
						{ key: "items", label: "Items", numeric: true, value: (o) => units(o), format: (o) => count(units(o)) },
						{ key: "total", label: "Total", numeric: true, value: (o) => o.total, format: (o) => money(o.total, o.currency) },
						{ key: "refunded", label: "Refunded", numeric: true, value: (o) => refunded(o), format: (o) => (o.refunds.length ? money(refunded(o), o.currency) : "–") },
						{ key: "currency", label: "Currency", value: (o) => o.currency },
						{ key: "coupon", label: "Coupon", value: (o) => o.coupon, format: (o) => o.coupon ?? "–" },
						{ key: "subscription", label: "Subscription", value: (o) => o.is_subscription, format: (o) => (o.is_subscription ? "yes" : "–") },
					]}
				/>
			)}
		</Panel>
	);
}

interface BoughtRow {
	sku: string;
	name: string | null;
	units: number;
	spent: number;
	orders: number;
	last: number;
}

function Bought({ p }: { p: CustomerProfile }) {
	const { view, site } = useApp();
	const rows = useMemo(() => {
		const by = new Map<string, BoughtRow>();
		const scale = minorPerMajor(p.currency);
		for (const o of p.orders) {
			if (o.status === "cancelled" || o.currency !== p.currency) continue;
			for (const i of o.items) {
				const r = by.get(i.sku) ?? { sku: i.sku, name: i.name, units: 0, spent: 0, orders: 0, last: 0 };
				r.units += i.qty;
				r.spent = Math.round((r.spent + i.line_total) * scale) / scale;
				r.orders++;
				r.last = Math.max(r.last, o.placed_at);
				by.set(i.sku, r);
			}
		}
		return [...by.values()].sort((a, b) => b.spent - a.spent || a.sku.localeCompare(b.sku));
	}, [p]);
	return (
		<Panel id="bought" title="Products bought" empty={rows.length ? false : "No products bought."} note="Order lines of non-cancelled orders (quantity × unit price, before order discounts).">
			{rows.length > 0 && (
				<DataTable
					id="bought"
					caption="Products bought, by money spent"
					filename={`customer_${p.customer.id}_products.csv`}
					rows={rows}
					limit={10}
					columns={[
						{
							key: "sku",
							label: "Product",
							wrap: true,
							value: (r) => r.sku,
							format: (r) => (
								<a href={pageUrl(`/products/${encodeURIComponent(r.sku)}`, view)} data-product={r.sku}>
									{r.name ?? r.sku}
								</a>
							),
						},
						{ key: "units", label: "Units", numeric: true, value: (r) => r.units, format: (r) => count(r.units) },
						{ key: "orders", label: "Orders", numeric: true, value: (r) => r.orders, format: (r) => count(r.orders) },
						{ key: "spent", label: "Spent", numeric: true, value: (r) => r.spent, format: (r) => money(r.spent, p.currency) },
						{ key: "last", label: "Last bought", value: (r) => iso(r.last), format: (r) => dateOnly(r.last, site.timezone) },
					]}
				/>
			)}
		</Panel>
	);
}

function Tickets({ p }: { p: CustomerProfile }) {
	const { site } = useApp();
	return (
		<Panel id="tickets" title={`Support tickets (${count(p.tickets.length)})`} empty={p.tickets.length ? false : "No support tickets."}>
			{p.tickets.length > 0 && (
				<DataTable
					id="tickets"
					caption="Support tickets, newest first"
					filename={`customer_${p.customer.id}_tickets.csv`}
					rows={p.tickets}
					limit={10}
					columns={[
						{ key: "ticket", label: "Ticket", value: (t) => t.ticket_id },
						{ key: "opened", label: "Opened", value: (t) => iso(t.opened_at), format: (t) => dateOnly(t.opened_at, site.timezone) },
						{ key: "category", label: "Category", value: (t) => t.category, format: (t) => t.category ?? "–" },
						{ key: "channel", label: "Channel", value: (t) => t.channel, format: (t) => t.channel ?? "–" },
						{ key: "status", label: "Status", value: (t) => t.status },
						{ key: "first", label: "First response", numeric: true, value: (t) => (t.first_response_at === null ? null : (t.first_response_at - t.opened_at) / 3_600_000), format: (t) => (t.first_response_at === null ? "–" : hours(t.first_response_at - t.opened_at)) },
						{ key: "resolved", label: "Resolved in", numeric: true, value: (t) => (t.resolved_at === null ? null : (t.resolved_at - t.opened_at) / 3_600_000), format: (t) => (t.resolved_at === null ? "open" : hours(t.resolved_at - t.opened_at)) },
						{ key: "order", label: "Order", value: (t) => t.order_id, format: (t) => t.order_id ?? "–" },
					]}
				/>
			)}
		</Panel>
	);
}

function Surveys({ p }: { p: CustomerProfile }) {
	const { site } = useApp();
	if (!p.surveys.length) return null;
	return (
		<Panel id="surveys" title={`Survey answers (${count(p.surveys.length)})`} note="NPS: 0–10 (9–10 promoter, 0–6 detractor); CSAT: 1–5 (4–5 satisfied).">
			<DataTable
				id="surveys"
				caption="NPS and CSAT answers, newest first"
				filename={`customer_${p.customer.id}_surveys.csv`}
				rows={p.surveys}
				limit={10}
				columns={[
					{ key: "when", label: "Answered", value: (s) => iso(s.responded_at), format: (s) => dateOnly(s.responded_at, site.timezone) },
					{ key: "kind", label: "Survey", value: (s) => s.kind, format: (s) => s.kind.toUpperCase() },
					{ key: "score", label: "Score", numeric: true, value: (s) => s.score, format: (s) => `${s.score} / ${s.kind === "nps" ? 10 : 5}` },
					{ key: "order", label: "Order", value: (s) => s.order_id, format: (s) => s.order_id ?? "–" },
				]}
			/>
		</Panel>
	);
}

/** The nightly analytics' view of the customer; left out when the Worker sends none. */
function Analytics({ res, src }: { res: Res; src: string }) {
	const { site, role } = useApp();
	const p = res.data;
	const a = p?.analytics;
	if (p && !a) return null;
	const cur = p?.currency ?? site.currency;
	const rfm = a?.rfm ?? null;
	const clv = a?.clv ?? null;
	const empty = !a ? false : a.as_of === null ? NIGHTLY_TEXT : !rfm && !clv ? `No order in the 365 days to ${a.as_of}: this customer has no RFM score or lifetime value in the last nightly run.` : false;
	return (
		<Panel
			id="customer-analytics"
			title="Segment and expected value"
			wide
			loading={res.loading}
			error={res.error}
			empty={empty}
			note={a?.as_of === null ? (role === "admin" ? <RunNightly /> : undefined) : a ? `Nightly run of ${a.as_of}: scores 1–5 by quintiles over the 365 days to it (5 best); expected orders from the BG/NBD model.` : undefined}
		>
			{a && !empty && (
				<>
					{rfm && (
						<>
							<p class="action" data-segment-action={rfm.segment}>
								<b>
									Segment:{" "}
									<span data-src={src} data-path="analytics.rfm.segment" data-value={rfm.segment}>
										{segmentName(rfm.segment)}
									</span>
								</b>
								{rfm.action}
							</p>
							<div class="kpis">
								<Stat label="Recency score (R)" value={rfm.r} text={`${rfm.r} / 5`} src={src} path="analytics.rfm.r" note={`${count(rfm.recency_days)} days since the last order`} />
								<Stat label="Frequency score (F)" value={rfm.f} text={`${rfm.f} / 5`} src={src} path="analytics.rfm.f" note={`${count(rfm.frequency)} order${rfm.frequency === 1 ? "" : "s"} in the window`} />
								<Stat label="Monetary score (M)" value={rfm.m} text={`${rfm.m} / 5`} src={src} path="analytics.rfm.m" note={`${money(rfm.monetary, cur)} net in the window`} />
							</div>
						</>
					)}
					{clv && (
						<div class="kpis">
							<Stat label="P(alive)" value={clv.p_alive} text={frac(clv.p_alive, cur)} src={src} path="analytics.clv.p_alive" hint="Probability that the customer still buys (BG/NBD)" />
							<Stat label="Expected orders, 30 days" value={clv.expected_30} text={decimal(clv.expected_30, 2)} src={src} path="analytics.clv.expected_30" />
							<Stat label="Expected orders, 90 days" value={clv.expected_90} text={decimal(clv.expected_90, 2)} src={src} path="analytics.clv.expected_90" />
							<Stat label="Expected orders, 365 days" value={clv.expected_365} text={decimal(clv.expected_365, 2)} src={src} path="analytics.clv.expected_365" />
							{role !== "operations" && clv.expected_spend !== null && <Stat label="Expected spend per order" value={clv.expected_spend} text={money(clv.expected_spend, cur)} src={src} path="analytics.clv.expected_spend" hint="Gamma-Gamma" />}
							{role !== "operations" && clv.clv !== null && <Stat label="Lifetime value (12 months)" value={clv.clv} text={money(clv.clv, cur)} src={src} path="analytics.clv.clv" hint="Expected orders × expected spend × gross margin, 1 % a month discount" />}
						</div>
					)}
					{a.segment_history.length > 0 && (
						<>
							<h3>Segment history</h3>
							<DataTable
								id="segment-history"
								caption="The customer's segment on each kept nightly run, newest first"
								filename={`customer_${p?.customer.id}_segments.csv`}
								rows={[...a.segment_history].reverse()}
								limit={8}
								columns={[
									{ key: "as_of", label: "Run of", value: (h) => h.as_of },
									{ key: "segment", label: "Segment", value: (h) => h.segment, format: (h) => segmentName(h.segment) },
									{ key: "r", label: "R", numeric: true, value: (h) => h.r },
									{ key: "f", label: "F", numeric: true, value: (h) => h.f },
									{ key: "m", label: "M", numeric: true, value: (h) => h.m },
								]}
							/>
						</>
					)}
				</>
			)}
		</Panel>
	);
}
