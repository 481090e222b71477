/**
 * The API reference, public: `GET /api/v1/openapi.json` (OpenAPI 3.1) and `GET /api/docs` (the same
 * document as a readable HTML page). Mounted before the /api/v1 credentials middleware.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { json, openApiApp } from "../lib/openapi";
import { apiDocument, type DocumentSource } from "./document";
import { referencePage } from "./page";

const CACHE = { "Cache-Control": "public, max-age=300" };

const documentRoute = createRoute({
	method: "get",
	path: "/api/v1/openapi.json",
	operationId: "openapi",
	tags: ["Reference"],
	summary: "OpenAPI document",
	description: "This API as an OpenAPI 3.1 document, generated from the zod schemas that validate each request. No credentials needed.",
	security: [],
	responses: { 200: json(z.record(z.string(), z.unknown()).describe("an OpenAPI 3.1 document"), "the document") },
});

const pageRoute = createRoute({
	method: "get",
	path: "/api/docs",
	operationId: "reference",
	tags: ["Reference"],
	summary: "HTML reference",
	description: "The OpenAPI document as a self-contained HTML page (no scripts, works offline). No credentials needed.",
	security: [],
	responses: { 200: { description: "the page", content: { "text/html": { schema: z.string() } } } },
});

const pages = new WeakMap<DocumentSource, string>();

/** The reference routes for `source` (read lazily: the app is complete by the first request). */
export function reference(source: () => DocumentSource) {
	return openApiApp()
		.openapi(documentRoute, (c) => c.json(apiDocument(source(), new URL(c.req.url).origin), 200, CACHE))
		.openapi(pageRoute, (c) => {
			const app = source();
			let page = pages.get(app);
			if (page === undefined) {
				page = referencePage(apiDocument(app, new URL(c.req.url).origin));
				pages.set(app, page);
			}
			return c.html(page, 200, CACHE);
		});
}
