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
					bindings: { TEST_MIGRATIONS: migrations, RETRY_BASE_SECONDS: "0" },
					compatibilityFlags: ["service_binding_extra_handlers"],
					queueConsumers: {
						"b2g-events": { maxBatchTimeout: 0.05 },
						"b2g-events-dlq": { maxBatchTimeout: 0.05 },
					},
				},
			}),
		],
		test: {
			include: ["test/**/*.test.ts"],
			setupFiles: ["./test/setup.ts"],
			testTimeout: 60_000,
		},
	};
});
