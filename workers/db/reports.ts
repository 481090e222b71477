/**
 * D1 schema (drizzle) of the report archive (issue 13): one row per (site, kind, subject, period), the
 * index of what `archiveReport` (workers/reports/render.ts) wrote to R2. Re-rendering a period replaces
 * its row and its objects, so the archive holds one report per key. Time is UTC epoch ms.
 */
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const reports = sqliteTable(
	"reports",
	{
		site: text("site").notNull(),
		/** executive | product | daily | financial */
		kind: text("kind").notNull(),
		/** The SKU of a product report; '' for the others (a primary key column cannot hold NULL as a value). */
		subject: text("subject").notNull(),
		/** The period label: 2026-12-02, 2026-W48, 2026-11, 2026-Q4. */
		period: text("period").notNull(),
		/** R2 key of the JSON; the HTML is beside it with `.html`. */
		key: text("key").notNull(),
		title: text("title").notNull(),
		generatedAt: integer("generated_at").notNull(),
		/** Size of the JSON object in bytes. */
		bytes: integer("bytes").notNull(),
		htmlBytes: integer("html_bytes").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.kind, t.subject, t.period] }), index("reports_site_generated").on(t.site, t.generatedAt)],
);
