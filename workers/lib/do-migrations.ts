/**
 * Versioned schema migrations for a Durable Object's SQLite storage: each entry of `migrations` runs
 * once, in order, in its own transaction, recorded in `_migrations`. Call it from the constructor under
 * `ctx.blockConcurrencyWhile`.
 */
export function migrateDurableObject(ctx: DurableObjectState, migrations: readonly string[]): void {
	const sql = ctx.storage.sql;
	sql.exec("CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY)");
	const done = sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM _migrations").one().v ?? 0;
	for (let v = done; v < migrations.length; v++) {
		ctx.storage.transactionSync(() => {
			sql.exec(migrations[v] as string);
			sql.exec("INSERT INTO _migrations (version) VALUES (?)", v + 1);
		});
	}
}
