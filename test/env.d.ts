declare namespace Cloudflare {
	interface Env {
		TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
	}
}

/** Vite's `?raw` import: a file's text (test/hardening.test.ts reads wrangler.toml with it). */
declare module "*?raw" {
	const text: string;
	export default text;
}
