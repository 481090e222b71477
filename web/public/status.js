// The status page's code (web/public/status.html). A file, not an inline script: the pages' CSP
// (workers/lib/security-headers.ts) allows scripts from this origin only.
(() => {
	"use strict";
	const $ = (id) => document.getElementById(id);
	const REFRESH_MS = 5000;
	const SITE_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
	const nf = new Intl.NumberFormat();
	const todayUtc = () => new Date().toISOString().slice(0, 10);
	const params = new URLSearchParams(location.search);
	const state = { site: SITE_RE.test(params.get("site") || "") ? params.get("site") : "demo", date: /^\d{4}-\d{2}-\d{2}$/.test(params.get("date") || "") ? params.get("date") : "" };
	let timer = 0;
	let generation = 0;

	// ── the API key: from the #key=… fragment (npm start's link), else this tab's sessionStorage ──
	const KEY_RE = /^b2g_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/;
	const KEY_STORE = "b2g.statusKey";
	let memoryKey = "";
	/** Why the API refused the key (401/403), shown in the key panel; "" when it was not refused. */
	let authError = "";
	function getKey() {
		try { return sessionStorage.getItem(KEY_STORE) || ""; } catch { return memoryKey; }
	}
	function setKey(k) {
		memoryKey = k;
		try { k ? sessionStorage.setItem(KEY_STORE, k) : sessionStorage.removeItem(KEY_STORE); } catch { /* storage off: memory only */ }
	}
	/** Takes `key=` out of the fragment into this tab's storage and out of the address bar (and history). */
	function keyFromFragment() {
		const parts = location.hash.replace(/^#/, "").split("&");
		const hit = parts.find((p) => p.startsWith("key="));
		if (hit === undefined) return false;
		let k = "";
		try { k = decodeURIComponent(hit.slice(4)).trim(); } catch { /* malformed escape */ }
		const rest = parts.filter((p) => p && !p.startsWith("key=")).join("&");
		history.replaceState(history.state, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
		if (k) { setKey(k); authError = ""; }
		return true;
	}
	/** What a user pastes: the key itself, "Bearer <key>", or the whole link with #key=. */
	function cleanKey(text) {
		let k = text.trim().replace(/^bearer\s+/i, "");
		const i = k.indexOf("#key=");
		if (i >= 0) k = k.slice(i + 5);
		try { k = decodeURIComponent(k); } catch { /* keep as typed */ }
		return k.trim();
	}
	class AuthError extends Error {}

	function renderKey() {
		const key = getKey();
		const show = !key || !!authError;
		$("auth").hidden = !show;
		$("auth-title").textContent = key ? "This API key does not work here" : "API key needed";
		setMsg("auth-msg", authError, true);
		$("keybar").hidden = !key;
		const id = /^b2g_([0-9a-f]{12})_/.exec(key);
		$("keybar-text").textContent = id ? `API key ${id[1]} (kept for this tab only)` : "API key kept for this tab only";
	}

	/** Cards without data while there is no usable key. */
	function showNeedKey() {
		for (const id of ["visitorsNow", "visitors60m", "events60m", "h-accepted", "h-stored", "h-archived", "h-pending", "h-rejected", "h-bots", "h-dead"]) $(id).textContent = "–";
		drawSpark([]);
		$("live").classList.add("loading");
		$("health").classList.add("loading");
		$("h-badge").hidden = true;
		$("dot").className = "dot";
		$("updated-text").textContent = "needs an API key";
		const text = getKey() ? "The API refused the key — see the note at the top." : "Needs an API key with the read scope — see the note at the top.";
		setMsg("live-msg", text, true);
		setMsg("health-msg", text, true);
	}

	$("site").value = state.site;
	$("date").value = state.date || todayUtc();
	$("cron").textContent = `curl "${location.origin}/__scheduled?cron=*/10+*+*+*+*"`;
	$("auth-link").textContent = `${location.origin}${location.pathname}#key=…`;

	/**
	 * Fetches JSON with the API key; on a non-2xx answer throws the API's `message` (or a readable
	 * fallback), as an AuthError for 401/403.
	 */
	async function getJson(path) {
		let res;
		try {
			res = await fetch(path, { cache: "no-store", headers: { Accept: "application/json", Authorization: `Bearer ${getKey()}` } });
		} catch {
			throw new Error("Cannot reach the Worker — is `npm start` still running?");
		}
		let body = null;
		try { body = await res.json(); } catch { /* not JSON */ }
		if (res.status === 401 || res.status === 403) {
			const why = (body && body.message) || `HTTP ${res.status}`;
			throw new AuthError(res.status === 401
				? `The API refused the key (${why}). Each npm start revokes the previous run's key: open the link it printed this time, or paste another key.`
				: `The API answered 403: ${why}. Use a key with the read scope for this site, or switch the Site field back.`);
		}
		if (!res.ok) throw new Error((body && body.message) || `HTTP ${res.status} from ${path}`);
		if (!body) throw new Error(`${path} did not answer JSON`);
		return body;
	}

	function setMsg(id, text, isError) {
		const el = $(id);
		el.hidden = !text;
		el.textContent = text || "";
		el.classList.toggle("err", !!isError);
	}

	function setHtmlMsg(id, html) {
		const el = $(id);
		el.hidden = false;
		el.classList.remove("err");
		el.innerHTML = html;
	}

	function drawSpark(points) {
		const svg = $("spark");
		const w = 300, h = 64, pad = 3;
		const values = points.map((p) => p.events);
		const max = Math.max(1, ...values);
		const step = values.length > 1 ? w / (values.length - 1) : w;
		const xy = values.map((v, i) => [i * step, h - pad - (v / max) * (h - 2 * pad)]);
		const line = xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
		const ns = "http://www.w3.org/2000/svg";
		svg.textContent = "";
		const area = document.createElementNS(ns, "polygon");
		area.setAttribute("points", `0,${h} ${line} ${w},${h}`);
		area.setAttribute("fill", "var(--accent-soft)");
		const pl = document.createElementNS(ns, "polyline");
		pl.setAttribute("points", line);
		pl.setAttribute("fill", "none");
		pl.setAttribute("stroke", "var(--accent)");
		pl.setAttribute("stroke-width", "1.6");
		pl.setAttribute("vector-effect", "non-scaling-stroke");
		pl.setAttribute("stroke-linejoin", "round");
		svg.append(area, pl);
		svg.setAttribute("aria-label", `Events per minute over the last 60 minutes; peak ${max}`);
		$("spark-max").textContent = values.some((v) => v > 0) ? `peak ${nf.format(max)}/min` : "";
	}

	async function loadLive(gen) {
		const site = state.site;
		try {
			const r = await getJson(`/api/v1/realtime?site=${encodeURIComponent(site)}`);
			if (gen !== generation) return;
			$("live").classList.remove("loading");
			$("visitorsNow").textContent = nf.format(r.visitorsNow);
			$("visitors60m").textContent = nf.format(r.visitors60m);
			$("events60m").textContent = nf.format(r.events60m);
			drawSpark(Array.isArray(r.minutes) ? r.minutes : []);
			$("dot").className = "dot live";
			$("updated-text").textContent = `updated ${new Date(r.now || Date.now()).toLocaleTimeString()}`;
			if (r.events60m === 0) setHtmlMsg("live-msg", `No events in the last hour for <code>${escapeHtml(site)}</code>. Open the <a href="/shop/">demo shop</a>, paste the snippet into a page, or run <code>node scripts/seed-events.mjs</code>.`);
			else setMsg("live-msg", "");
		} catch (err) {
			if (gen !== generation) return;
			if (err instanceof AuthError) { authError = err.message; return; }
			$("live").classList.add("loading");
			for (const id of ["visitorsNow", "visitors60m", "events60m"]) $(id).textContent = "–";
			drawSpark([]);
			$("dot").className = "dot bad";
			$("updated-text").textContent = "not updating";
			setMsg("live-msg", err.message, true);
		}
	}

	async function loadHealth(gen) {
		const site = state.site;
		const date = state.date || todayUtc();
		$("health-date").textContent = state.date ? date : `today (${date})`;
		const badge = $("h-badge");
		try {
			const r = await getJson(`/api/v1/health/pipeline?site=${encodeURIComponent(site)}&date=${date}`);
			if (gen !== generation) return;
			$("health").classList.remove("loading");
			const set = (id, v) => ($(id).textContent = typeof v === "number" ? nf.format(v) : "–");
			set("h-accepted", r.accepted); set("h-stored", r.stored); set("h-archived", r.archived);
			set("h-pending", r.pending_archive); set("h-rejected", r.rejected); set("h-bots", r.bots); set("h-dead", r.dead_letters);
			const empty = !r.accepted && !r.stored && !r.archived;
			badge.hidden = empty;
			if (r.reconciled) {
				badge.className = "badge ok";
				badge.textContent = `✓ reconciled: accepted = stored = archived (${nf.format(r.archive_objects)} R2 object${r.archive_objects === 1 ? "" : "s"})`;
			} else {
				badge.className = "badge wait";
				badge.textContent = r.stored < r.accepted || r.pending_archive > 0 ? "… draining: the queue consumer is still storing / archiving" : "✗ not reconciled: counts differ";
			}
			if (empty) setMsg("health-msg", `No events with a timestamp on ${date} (UTC) yet.`);
			else setMsg("health-msg", r.notes || "");
		} catch (err) {
			if (gen !== generation) return;
			if (err instanceof AuthError) { authError = err.message; return; }
			$("health").classList.add("loading");
			for (const id of ["h-accepted", "h-stored", "h-archived", "h-pending", "h-rejected", "h-bots", "h-dead"]) $(id).textContent = "–";
			badge.hidden = true;
			setMsg("health-msg", err.message, true);
		}
	}

	function escapeHtml(s) {
		return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
	}

	function renderStatic() {
		const site = state.site;
		$("snippet").textContent = `<script defer src="${location.origin}/t.js" data-site="${site}"></` + `script>`;
		const curl = (what, path) => `# ${what}\ncurl -H "Authorization: Bearer $B2G_KEY" "${location.origin}${path}"`;
		$("curl").textContent = [
			curl("live counter", `/api/v1/realtime?site=${encodeURIComponent(site)}`),
			curl("accepted / stored / archived", `/api/v1/health/pipeline?site=${encodeURIComponent(site)}&date=${state.date || todayUtc()}`),
			curl("parked events", `/api/v1/pipeline/dead-letters?site=${encodeURIComponent(site)}`),
		].join("\n");
	}

	async function tick() {
		clearTimeout(timer);
		const gen = generation;
		if (!getKey() || authError) {
			// Nothing to poll until a (new) key is given.
			renderKey();
			showNeedKey();
			return;
		}
		await Promise.all([loadLive(gen), loadHealth(gen)]);
		if (gen !== generation) return;
		renderKey();
		if (authError) showNeedKey();
		else timer = setTimeout(tick, REFRESH_MS);
	}

	function apply() {
		const site = $("site").value.trim();
		if (!SITE_RE.test(site)) {
			$("site").reportValidity();
			return;
		}
		state.site = site;
		const d = $("date").value;
		state.date = d && d !== todayUtc() ? d : "";
		const q = new URLSearchParams();
		if (site !== "demo") q.set("site", site);
		if (state.date) q.set("date", state.date);
		history.replaceState(null, "", q.toString() ? `?${q}` : location.pathname);
		authError = ""; // another site may accept the key (a 403 is per site)
		generation++;
		renderStatic();
		tick();
	}

	$("controls").addEventListener("submit", (e) => { e.preventDefault(); apply(); });
	$("site").addEventListener("change", apply);
	$("date").addEventListener("change", apply);
	$("copy").addEventListener("click", async () => {
		const text = $("snippet").textContent;
		try {
			await navigator.clipboard.writeText(text);
		} catch {
			const range = document.createRange();
			range.selectNodeContents($("snippet"));
			const sel = getSelection();
			sel.removeAllRanges();
			sel.addRange(range);
			document.execCommand && document.execCommand("copy");
		}
		$("copy").textContent = "Copied";
		setTimeout(() => ($("copy").textContent = "Copy"), 1500);
	});
	$("key-form").addEventListener("submit", (e) => {
		e.preventDefault();
		const input = $("key-input");
		const k = cleanKey(input.value);
		if (!KEY_RE.test(k)) {
			authError = "That does not look like an API key: b2g_, 12 hex digits, _, then 43 letters, digits, - or _.";
			renderKey();
			input.focus();
			return;
		}
		input.value = "";
		setKey(k);
		authError = "";
		generation++;
		tick();
	});
	$("forget").addEventListener("click", () => {
		setKey("");
		authError = "";
		generation++;
		tick();
		$("key-input").focus();
	});
	window.addEventListener("hashchange", () => {
		if (keyFromFragment()) { generation++; tick(); }
	});
	document.addEventListener("visibilitychange", () => { if (!document.hidden) tick(); });

	keyFromFragment();
	drawSpark([]);
	renderStatic();
	tick();
})();
