/**
 * D1 schema (drizzle) of saved funnel definitions (workers/funnels/). A site without rows has the
 * default funnel (match.ts `DEFAULT_FUNNEL`); `PUT /api/v1/funnels` replaces the whole set.
 */
import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** One funnel of a site's set. `steps` is a JSON array of `{event, label?}`; time is UTC epoch ms. */
export const funnels = sqliteTable(
	"funnels",
	{
		site: text("site").notNull(),
		id: text("id").notNull(),
		/** Order in the set as last PUT (0-based). */
		position: integer("position").notNull(),
		name: text("name").notNull(),
		steps: text("steps").notNull(),
		windowSeconds: integer("window_seconds").notNull(),
		/** Last time this funnel's definition changed (a repeat PUT leaves it). */
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.id] })],
);
