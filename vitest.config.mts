import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => {
	const migrations = await readD1Migrations("./migrations");
	return {
		plugins: [
			cloudflareTest({
				wrangler: { configPath: "./wrangler.toml" },
				miniflare: {
					// Test-only bindings: the migrations to apply, and no retry backoff so retry tests run fast.
					// The rate limits are out of the way here (one admin key makes hundreds of calls, every request comes from one
					// address); test/access and test/limits test them with their own env.
					bindings: {
						TEST_MIGRATIONS: migrations,
						RETRY_BASE_SECONDS: "0",
						RATE_LIMIT_REQUESTS: "1000000",
						KPI_CACHE_SECONDS: "0",
						RATE_LIMIT_SITE_REQUESTS: "1000000",
						AUTH_FAILURE_LIMIT: "1000000",
						INGEST_IP_LIMIT: "1000000",
						INGEST_SITE_LIMIT: "1000000",
						INGEST_KEY_LIMIT: "1000000",
					},
					compatibilityFlags: ["service_binding_extra_handlers"],
					queueConsumers: {
						// These replace (not merge with) wrangler.toml's consumer settings, so repeat them.
						"b2g-events": { maxBatchSize: 100, maxBatchTimeout: 0.05, maxRetries: 6, deadLetterQueue: "b2g-events-dlq" },
						"b2g-events-dlq": { maxBatchSize: 100, maxBatchTimeout: 0.05, maxRetries: 10 },
						"b2g-imports": { maxBatchSize: 1, maxBatchTimeout: 0.05, maxRetries: 5 },
						"b2g-alert-deliveries": { maxBatchSize: 10, maxBatchTimeout: 0.05, maxRetries: 20 },
					},
				},
			}),
		],
		test: {
			include: ["test/**/*.test.ts"],
			setupFiles: ["./test/setup.ts"],
			// A local HTTP receiver for alert notifications (Node side; its URL is `inject("alertReceiver")`).
			// The reference data sets with published answers, read from ../shared/data (`inject("sharedData")`).
			globalSetup: ["./test/alert-receiver.mjs", "./test/shared-data.mjs"],
			testTimeout: 60_000,
		},
	};
});
