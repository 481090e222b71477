/**
 * vitest globalSetup (runs in Node, outside workerd): a local HTTP receiver for alert notifications.
 * It records every request by path and can be told to fail the next N requests to a path, so the
 * alert tests (test/alerts.test.ts) check signatures, bodies and retries against a real HTTP server.
 * Its URL reaches the tests through `provide("alertReceiver", …)` / `inject("alertReceiver")`.
 *
 *   POST /_control/fail {"path": "/hook/x", "count": 3, "status": 503}  fail the next 3 requests to /hook/x
 *   GET  /_control/requests?path=/hook/x                                 what /hook/x received, oldest first
 *   any other request                                                     recorded, answered 200 "ok" (or the failure)
 */
import { createServer } from "node:http";

export default async function setup({ provide }) {
	/** path → requests received */
	const received = new Map();
	/** path → { count, status } still to fail */
	const failing = new Map();
	const server = createServer(async (req, res) => {
		const chunks = [];
		for await (const chunk of req) chunks.push(chunk);
		const body = Buffer.concat(chunks).toString("utf8");
		const url = new URL(req.url ?? "/", "http://receiver.invalid");
		const reply = (status, text, type = "text/plain") => {
			res.writeHead(status, { "Content-Type": type });
			res.end(text);
		};
		if (url.pathname === "/_control/fail" && req.method === "POST") {
			const { path, count, status = 500 } = JSON.parse(body);
			failing.set(path, { count, status });
			return reply(200, "ok");
		}
		if (url.pathname === "/_control/requests") return reply(200, JSON.stringify(received.get(url.searchParams.get("path")) ?? []), "application/json");
		const fail = failing.get(url.pathname);
		const status = fail && fail.count > 0 ? fail.status : 200;
		if (fail && fail.count > 0) fail.count--;
		const list = received.get(url.pathname) ?? [];
		list.push({ method: req.method, path: url.pathname, headers: req.headers, body, status, at: Date.now() });
		received.set(url.pathname, list);
		return status === 200 ? reply(200, "ok") : reply(status, `failing on purpose (${status})`);
	});
	await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
	const address = server.address();
	provide("alertReceiver", `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`);
	return () => new Promise((resolve) => server.close(() => resolve(undefined)));
}
