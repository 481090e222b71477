/**
 * Cloudflare Pages, advanced mode: the dashboard's static files come from Pages, and the paths that
 * belong to the analytics Worker (the API, the login link, ingest, webhooks) go to it through the `API`
 * service binding (web/pages/wrangler.toml). Same origin for the browser, so the session cookie, the
 * same-origin write check and the live WebSocket work as they do when the Worker serves everything.
 * `_routes.json` (written by scripts/build-pages.mjs) sends only those paths here.
 */
export const WORKER_PATHS = /^\/(api\/|hooks\/|login$|e$)/;

export default {
	async fetch(request, env) {
		const { pathname } = new URL(request.url);
		if (WORKER_PATHS.test(pathname)) return env.API.fetch(request);
		return env.ASSETS.fetch(request);
	},
};
