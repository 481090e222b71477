import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { getJson, pageView, postEvents, waitFor } from "./helpers";

it("accepts an event and stores it in D1 through the queue", async () => {
	const e = pageView();
	const res = await postEvents({ site: "demo", events: [e] });
	expect(res.status).toBe(202);
	const row = await waitFor(() => env.DB.prepare("SELECT * FROM events WHERE id = ?").bind(e.id).first());
	expect(row.name).toBe("page_view");
	const health = await getJson(`/api/v1/health/pipeline?site=demo`);
	console.log(health);
});
