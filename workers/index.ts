/** Entry point: wires the fetch, queue and scheduled handlers and exports the Durable Object classes. */
import { app } from "./app";
import { ALERT_DELIVERY_QUEUE, consumeAlertDeliveries } from "./alerts/delivery";
import { runMaintenance } from "./jobs/scheduled";
import { consumeImports, IMPORTS_QUEUE } from "./import/consumer";
import { withSecurityHeaders } from "./lib/security-headers";
import { consumeDeadLetters, consumeEvents, DEAD_LETTER_QUEUE } from "./pipeline/consumer";

export { RateLimiter } from "./auth/rate-limit";
export { LiveSite } from "./realtime/live-site";
export { NightlyAnalytics } from "./jobs/nightly";

export default {
	// Security headers here, around the whole app: they reach every answer, errors and 404s included.
	fetch: async (request, env, ctx) => withSecurityHeaders(request, await app.fetch(request, env, ctx)),
	async queue(batch, env) {
		if (batch.queue === DEAD_LETTER_QUEUE) await consumeDeadLetters(batch, env);
		else if (batch.queue === IMPORTS_QUEUE) await consumeImports(batch, env);
		else if (batch.queue === ALERT_DELIVERY_QUEUE) await consumeAlertDeliveries(batch, env);
		else await consumeEvents(batch, env);
	},
	async scheduled(controller, env) {
		const report = await runMaintenance(env, controller.scheduledTime);
		console.log("maintenance", JSON.stringify(report));
	},
} satisfies ExportedHandler<Env, unknown>;
