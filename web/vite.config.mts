/**
 * The dashboard build (Preact + uPlot): web/app → dist/web, beside the tracker and the static pages that
 * scripts/build-tracker.mjs puts there first (so this build must not empty the folder). Each page is its
 * own chunk (preact-iso `lazy`); the manifest lets scripts/build-dashboard.mjs check the JS budget.
 */
import preact from "@preact/preset-vite";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
	root: here("./app"),
	base: "/",
	publicDir: false,
	plugins: [preact({ prerender: { enabled: false } })],
	// `npm run dev:web`: hot reload against the local Worker (npm start) for the API, the login link and the live socket.
	server: {
		proxy: {
			"/api/": { target: process.env.B2G_API ?? "http://127.0.0.1:8787", ws: true },
			"/login": process.env.B2G_API ?? "http://127.0.0.1:8787",
		},
	},
	build: {
		outDir: here("../dist/web"),
		emptyOutDir: false,
		assetsDir: "app",
		manifest: "app/manifest.json",
		target: "es2022",
		sourcemap: true,
		reportCompressedSize: false,
		modulePreload: { polyfill: false },
	},
});
