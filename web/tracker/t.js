/**
 * Brain2Gain Analytics: the browser tracker (source; built into dist/web/t.js by scripts/build-tracker.mjs).
 *
 *   <script defer src="https://HOST/t.js" data-site="SITE"
 *           [data-customer="CUSTOMER_ID"] [data-gpc] [data-consent="required"] [data-api="https://HOST/e"]></script>
 *
 * - `b2g(name, props)` queues an event; `b2g.identify(id)` tags all later events with customer_id.
 *   Calls made to the stub `window.b2g = window.b2g || function(){(b2g.q=b2g.q||[]).push(arguments)}`
 *   before this script ran are replayed.
 * - A `page_view` is sent on load and on SPA navigations (history.pushState / replaceState / popstate)
 *   whenever pathname + search changed since the last page view.
 * - Events are batched: sent when 10 are queued, 1 s after the first queued event, and always on
 *   `pagehide` / `visibilitychange` to hidden. Transport: navigator.sendBeacon with a string body
 *   (text/plain, no CORS preflight), falling back to fetch(keepalive).
 * - Privacy: no cookies, no storage. With `data-gpc` on the tag and Global Privacy Control on, nothing
 *   is sent at all. Nothing is sent either for file: pages or without `data-site`.
 * - Consent mode: with `data-consent="required"` nothing is collected (not even queued in memory) until
 *   `b2g.consent(true)`, which then sends the current page's page_view and tracks from there on.
 *   `b2g.consent(false)` stops again and drops whatever is queued and unsent. Before t.js has loaded
 *   the stub form `b2g("consent", true)` does the same (replayed in order with the other stub calls), so
 *   "consent" is never sent as an event name.
 *
 * Wire format (POST {endpoint}): {"site": SITE, "events": [EVENT...], "b": 1 (only under automation)}
 *   EVENT = {id, name, ts, url, referrer, props?, customer_id?} (the server rejects any other key).
 *
 * Size budget: <= 1,024 bytes after gzip -9 of the minified build (checked by the build script).
 * The code is written so that esbuild's minifier can shorten everything: aliases for globals,
 * plain functions, no classes. Must stay ES2019 (no ?. or ??).
 */

const win = window;
const doc = document;
const loc = location;
const nav = navigator;
const hist = history;
const script = doc.currentScript;
const attr = (name) => script.getAttribute("data-" + name);

const site = attr("site");
const endpoint = attr("api") || new URL("/e", script.src).href;
/** Tracking is off: nothing is queued or sent, b2g is a no-op (consent cannot turn it on). */
const off = !site || loc.protocol == "file:" || (script.hasAttribute("data-gpc") && nav.globalPrivacyControl);
/** Events are collected now: not off, and consent given or not required by the tag. */
let consent = !off && attr("consent") != "required";
/** The stub (with its queue `q`) or an earlier copy of this tracker (which has `identify`). */
const previous = win.b2g;

/** Pending events, never more than 10. */
const queue = [];
/** The single flush timer (0 when none is pending). */
let timer = 0;
let customer = attr("customer") || undefined;
/** Referrer of the current page view: document.referrer at first, then the previous page's URL. */
let referrer = doc.referrer;
/** pathname + search and href of the last page view. */
let lastPath;
let lastHref;

/** An RFC 4122 v4 UUID; crypto.randomUUID needs a secure context, so plain-http pages use getRandomValues. */
const uuid = () =>
	crypto.randomUUID
		? crypto.randomUUID()
		: "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));

/** Sends everything queued in one request. Also the pagehide / visibilitychange handler. */
const flush = () => {
	clearTimeout(timer);
	timer = 0;
	if (queue.length) {
		// `b` is left out by JSON.stringify when undefined.
		const body = JSON.stringify({ site, events: queue.splice(0), b: nav.webdriver ? 1 : undefined });
		if (!(nav.sendBeacon && nav.sendBeacon(endpoint, body))) fetch(endpoint, { method: "POST", body, keepalive: true }).catch(() => {});
	}
};

/**
 * window.b2g(name, props): queues one event. `props` and `customer_id` are left out when undefined.
 * It first emits any page_view still due: popstate listeners the site registered before ours run first,
 * and a router may hold the unwrapped pushState, so the URL can change before we hear of it.
 * (For page_view itself this is a no-op: pageview() records the path before calling track.)
 */
const track = (name, props) => {
	if (name == "consent") {
		// Withdrawn: drop the unsent queue (a pending timer then finds it empty). Given: count this page.
		consent = !off && props;
		if (consent) pageview();
		else queue.length = 0;
	} else if (consent) {
		pageview();
		queue.push({ id: uuid(), name, ts: Date.now(), url: loc.href, referrer, props, customer_id: customer });
		if (queue.length > 9) flush();
		else timer = timer || setTimeout(flush, 1000);
	}
};

/**
 * Emits a page_view when pathname + search changed since the last one. Without consent it records
 * nothing, so the page current when consent comes is still new (and its referrer the last tracked page).
 */
const pageview = () => {
	const path = loc.pathname + loc.search;
	if (consent && path != lastPath) {
		lastPath = path;
		if (lastHref) referrer = lastHref;
		lastHref = loc.href;
		track("page_view");
	}
};

// Do nothing if this tracker already runs on the page (script included twice).
if (!(previous && previous.identify)) {
	win.b2g = track;
	track.identify = (id) => {
		customer = id || undefined;
	};
	track.consent = (yes) => track("consent", yes);
	if (!off) {
		pageview();
		// Replay what the stub queued before we loaded.
		if (previous && previous.q) previous.q.forEach((args) => track(...args));
		// SPA navigations: pushState always, replaceState too (pageview ignores unchanged paths).
		["pushState", "replaceState"].forEach((method) => {
			const original = hist[method];
			hist[method] = function () {
				original.apply(this, arguments);
				pageview();
			};
		});
		win.addEventListener("popstate", pageview);
		win.addEventListener("pagehide", flush);
		doc.addEventListener("visibilitychange", () => doc.hidden && flush());
	}
}
