import { defineConfig } from "drizzle-kit";

export default defineConfig({
	dialect: "sqlite",
	schema: ["./workers/db/schema.ts", "./workers/db/access.ts", "./workers/db/alerts.ts", "./workers/db/funnels.ts", "./workers/db/analytics.ts", "./workers/db/reports.ts", "./workers/db/report-subscriptions.ts"],
	out: "./migrations",
});
