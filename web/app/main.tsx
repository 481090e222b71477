/**
 * The dashboard shell: who is signed in (GET /api/v1/me), their sites and the KPIs their role may see,
 * the navigation for that role, the global site / date range / grain / comparison controls (all held in
 * the URL), and the pages, each loaded on first visit.
 */
// First: makes navigator.language(s) valid BCP 47 tags before any library reads them (see locale.ts).
import "./locale";
import { render, type FunctionComponent } from "preact";
import { ErrorBoundary, lazy, LocationProvider, Route, Router, useLocation } from "preact-iso";
import { useEffect, useMemo, useState } from "preact/hooks";
import { apiUrl, getJson, HttpError, onUnauthorized, postJson, type CatalogKpi, type Me, type Role, type Site } from "./api";
import { Boundary } from "./boundary";
import { SignIn } from "./signin";
import { AppContext, COMPARES, GRAINS, PAGES, pageOf, pageParams, pageUrl, PRESETS, presetOf, today, viewFromQuery, viewQuery, type App, type View } from "./state";
import "./styles.css";
import { initTheme, setTheme, useTheme } from "./theme";

/**
 * A page's code, loaded on first visit. When it cannot load (the network, a newer deploy, an error while
 * its modules start), the page says so instead of staying blank.
 */
function page<P>(load: () => Promise<{ default: FunctionComponent<P> }>) {
	return lazy(() => load().catch((error: unknown): { default: FunctionComponent<P> } => ({ default: () => <PageError error={error} what="loaded" /> })));
}

const Executive = page(() => import("./pages/executive"));
const Operations = page(() => import("./pages/operations"));
const Customers = page(() => import("./pages/customers"));
const Customer = page(() => import("./pages/customer"));
const Products = page(() => import("./pages/products"));
const Product = page(() => import("./pages/product"));
const Cohorts = page(() => import("./pages/cohorts"));
const Basket = page(() => import("./pages/basket"));
const ModelsPage = page(() => import("./pages/models"));
const ReportsPage = page(() => import("./pages/reports"));

/** A page that could not be loaded or shown (what its panels throw stays in the panel: ui.tsx). */
function PageError({ error, what }: { error: unknown; what: "loaded" | "shown" }) {
	return (
		<section class="panel" data-state="error">
			<h1>This page could not be {what}</h1>
			<p class="msg err" role="alert">
				{error instanceof Error ? error.message : String(error)}
			</p>
			<p>Reload the page to try again.</p>
		</section>
	);
}

/** The lazy page of a path (to load its code while the shell starts). */
function pageComponent(path: string) {
	const m = /^\/(operations|customers|products|cohorts|basket|models|reports)(\/[^/]+)?\/?$/.exec(path);
	if (!m) return Executive;
	if (m[1] === "operations") return Operations;
	if (m[1] === "cohorts") return Cohorts;
	if (m[1] === "basket") return Basket;
	if (m[1] === "models") return ModelsPage;
	if (m[1] === "reports") return ReportsPage;
	if (m[1] === "customers") return m[2] ? Customer : Customers;
	return m[2] ? Product : Products;
}

type Boot = { state: "loading" } | { state: "signed-out" } | { state: "error"; error: Error } | { state: "ready"; me: Me; role: Role; sites: Site[]; catalog: Map<string, CatalogKpi> };

function useBoot(): [Boot, () => void] {
	const [boot, setBoot] = useState<Boot>({ state: "loading" });
	const [attempt, setAttempt] = useState(0);
	useEffect(() => {
		let live = true;
		(async () => {
			try {
				// All at once (the catalogue depends on the role, not the site): one round trip before the page's
				// own requests. A signed-out reader gets 401 from any of them.
				const [me, { sites }, { kpis }] = await Promise.all([
					getJson<Me>(apiUrl("/me")),
					getJson<{ sites: Site[] }>(apiUrl("/sites")),
					getJson<{ kpis: CatalogKpi[] }>(apiUrl("/kpis/catalog")),
				]);
				// Keys (not a browser's usual credential) get the least-privileged view.
				const role: Role = me.kind === "user" && me.role ? me.role : "operations";
				if (live) setBoot({ state: "ready", me, role, sites, catalog: new Map(kpis.map((k) => [k.id, k])) });
			} catch (error) {
				if (!live) return;
				if (error instanceof HttpError && error.status === 401) setBoot({ state: "signed-out" });
				else setBoot({ state: "error", error: error instanceof Error ? error : new Error(String(error)) });
			}
		})();
		return () => {
			live = false;
		};
	}, [attempt]);
	useEffect(() => onUnauthorized(() => setBoot({ state: "signed-out" })), []);
	return [boot, () => setAttempt((n) => n + 1)];
}

function ThemeToggle() {
	const theme = useTheme();
	const next = theme === "dark" ? "light" : "dark";
	return (
		<button type="button" class="icon-button" onClick={() => setTheme(next)} aria-label={`Switch to ${next} theme`} title={`Switch to ${next} theme`}>
			<span aria-hidden="true">{theme === "dark" ? "☀" : "☾"}</span>
		</button>
	);
}

function Controls({ app }: { app: App }) {
	const { view, site, sites, setView } = app;
	const t = today(site.timezone);
	const preset = presetOf(view, t);
	return (
		<form class="controls" aria-label="View" onSubmit={(e) => e.preventDefault()}>
			{sites.length > 1 && (
				<label>
					Site
					<select name="site" value={view.site} onChange={(e) => setView({ site: e.currentTarget.value })}>
						{sites.map((s) => (
							<option value={s.id} key={s.id}>
								{s.name}
							</option>
						))}
					</select>
				</label>
			)}
			<label>
				Range
				<select
					name="range"
					value={preset}
					onChange={(e) => {
						const p = PRESETS.find((x) => x.id === e.currentTarget.value);
						if (p) {
							const [from, to] = p.range(t);
							setView({ from, to });
						}
					}}
				>
					{PRESETS.map((p) => (
						<option value={p.id} key={p.id}>
							{p.label}
						</option>
					))}
					<option value="custom" disabled={preset !== "custom"}>
						Custom
					</option>
				</select>
			</label>
			<label>
				From
				<input type="date" name="from" value={view.from} max={view.to} required onChange={(e) => e.currentTarget.value && setView({ from: e.currentTarget.value })} />
			</label>
			<label>
				To
				<input type="date" name="to" value={view.to} min={view.from} required onChange={(e) => e.currentTarget.value && setView({ to: e.currentTarget.value })} />
			</label>
			<label>
				Grain
				<select name="grain" value={view.grain} onChange={(e) => setView({ grain: e.currentTarget.value as View["grain"] })}>
					{GRAINS.map((g) => (
						<option value={g.id} key={g.id}>
							{g.label}
						</option>
					))}
				</select>
			</label>
			<label>
				Compare
				<select name="compare" value={view.compare ?? "none"} onChange={(e) => setView({ compare: e.currentTarget.value === "none" ? null : (e.currentTarget.value as "previous" | "yoy") })}>
					{COMPARES.map((c) => (
						<option value={c.id} key={c.id}>
							{c.label}
						</option>
					))}
				</select>
			</label>
		</form>
	);
}

function Shell({ me, role, sites, catalog, onSignedOut }: { me: Me; role: Role; sites: Site[]; catalog: Map<string, CatalogKpi>; onSignedOut: () => void }) {
	const loc = useLocation();
	const view = useMemo(() => viewFromQuery(loc.query, sites), [loc.query, sites]);
	const site = sites.find((s) => s.id === view.site);
	const allowed = PAGES.filter((p) => p.roles.includes(role));
	const page = pageOf(loc.path);
	const params = useMemo(() => pageParams(loc.query), [loc.query]);

	// Canonical URL: every view parameter present, so the address bar always shares what is on screen;
	// a page the role does not see sends the reader to the first one it does.
	useEffect(() => {
		if (!site) return;
		const path = page && page.roles.includes(role) ? loc.path : (allowed[0]?.path ?? "/");
		const want = pageUrl(path, view, path === loc.path ? params : {});
		if (`${loc.path}?${new URLSearchParams(loc.query).toString()}` !== want) loc.route(want, true);
	}, [loc.url, site?.id]);


	if (!site) {
		return (
			<main id="main" class="center">
				<h1>No site yet</h1>
				<p>This account has no site to show. An admin creates one with POST /api/v1/sites.</p>
			</main>
		);
	}
	const setView = (patch: Partial<View>) => {
		const next = { ...view, ...patch };
		if (next.from > next.to) [next.from, next.to] = patch.to ? [next.to, next.to] : [next.from, next.from];
		loc.route(pageUrl(loc.path, next, params));
	};
	const setParams = (patch: Record<string, string | null>, replace = false) => {
		const next = { ...params };
		for (const [k, v] of Object.entries(patch)) {
			if (v === null || v === "") delete next[k];
			else next[k] = v;
		}
		loc.route(pageUrl(loc.path, view, next), replace);
	};
	const logout = async () => {
		try {
			await postJson(apiUrl("/logout"));
		} finally {
			onSignedOut();
		}
	};
	const app: App = { me, role, sites, site, view, catalog, setView, params, setParams };
	const who = me.kind === "user" ? me.email : me.name;

	return (
		<>
			<a class="skip" href="#main">
				Skip to content
			</a>
			<header class="top">
				<div class="brand">
					<span class="logo" aria-hidden="true">
						◆
					</span>{" "}
					Brain2Gain <span class="muted">{site.name}</span>
				</div>
				<nav aria-label="Pages">
					{allowed.map((p) => (
						<a href={`${p.path}?${viewQuery(view)}`} key={p.path} aria-current={p.path === loc.path ? "page" : p === page ? "true" : undefined} data-nav={p.path}>
							{p.label}
						</a>
					))}
				</nav>
				<div class="who">
					<span class="muted" data-role={role} title={who}>
						{role}
					</span>
					<ThemeToggle />
					<button type="button" class="link-button" onClick={logout}>
						Sign out
					</button>
				</div>
			</header>
			<Controls app={app} />
			<main id="main" tabIndex={-1}>
				<AppContext.Provider value={app}>
					<Boundary resetKey={loc.url} fallback={(error) => <PageError error={error} what="shown" />}>
						<ErrorBoundary>
							<Router>
								<Route path="/" component={Executive} />
								<Route path="/operations" component={Operations} />
								<Route path="/customers" component={Customers} />
								<Route path="/customers/:id" component={Customer} />
								<Route path="/products" component={Products} />
								<Route path="/products/:sku" component={Product} />
								<Route path="/cohorts" component={Cohorts} />
								<Route path="/basket" component={Basket} />
								<Route path="/models" component={ModelsPage} />
								<Route path="/reports" component={ReportsPage} />
								<Route default component={NotFound} />
							</Router>
						</ErrorBoundary>
					</Boundary>
				</AppContext.Provider>
			</main>
			<footer class="foot muted">
				<a href="/status.html" target="_self" data-native>
					Pipeline status
				</a>
				{" · "}
				<a href="/api/docs" target="_self" data-native>
					API reference
				</a>
				{" · "}
				Times in {site.timezone}, money in {site.currency}
			</footer>
		</>
	);
}

function NotFound() {
	return (
		<section class="panel">
			<h1>Page not found</h1>
			<p>
				<a href="/">Back to the dashboard</a>
			</p>
		</section>
	);
}

function Root() {
	const [boot, retry] = useBoot();
	const [, rerender] = useState(0);
	if (boot.state === "loading") return <div class="skeleton page-skeleton" aria-label="Loading" />;
	if (boot.state === "signed-out") return <SignIn />;
	if (boot.state === "error")
		return (
			<main id="main" class="center">
				<h1>The dashboard could not start</h1>
				<p class="msg err" role="alert">
					{boot.error.message}
				</p>
				<button type="button" onClick={retry}>
					Try again
				</button>
			</main>
		);
	return (
		<LocationProvider scope={/^\/((operations|customers|products)(\/[^/?#]+)?\/?|cohorts\/?|basket\/?|models\/?|reports\/?)?(\?|$)/}>
			<Shell
				me={boot.me}
				role={boot.role}
				sites={boot.sites}
				catalog={boot.catalog}
				onSignedOut={() => {
					retry();
					rerender((n) => n + 1);
				}}
			/>
		</LocationProvider>
	);
}

initTheme();
// The page's code loads while the shell asks who is signed in (it would otherwise wait for that).
pageComponent(location.pathname).preload().catch(() => {});
const root = document.getElementById("app");
if (root) render(<Root />, root);
