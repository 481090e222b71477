#!/usr/bin/env node
/**
 * `npm run key -- <command>`: API keys in the local stack's D1 (.wrangler/state, or --persist-to DIR).
 *
 *   create --scopes ingest,read,admin [--site demo] [--name "…"]   prints the new key ONCE, alone on the last line
 *   list [--site demo]                                             id, site, name, scopes, created, last used, revoked
 *   revoke --id <key id>
 *
 * Without --site a key is account-wide (it acts on any site it names with ?site=, and only such an
 * admin key can create sites). Keys are stored hashed; a lost key cannot be shown again — make a new one.
 */
import { parseArgs } from "node:util";
import { insertKeySql, newKey } from "./lib/keys.mjs";
import { d1Json, runWrangler } from "./lib/wrangler.mjs";

const usage = `usage: npm run key -- create --scopes ingest,read,admin [--site SITE] [--name NAME] [--persist-to DIR]
       npm run key -- list [--site SITE] [--persist-to DIR]
       npm run key -- revoke --id KEY_ID [--persist-to DIR]`;

async function d1(sql, persistTo) {
	const argv = ["d1", "execute", "DB", "--local", "--json", "--command", sql];
	if (persistTo) argv.push("--persist-to", persistTo);
	const { stdout } = await runWrangler(argv, { timeoutMs: 120_000 });
	return d1Json(stdout).at(-1)?.results ?? [];
}

async function main() {
	const { positionals, values } = parseArgs({
		allowPositionals: true,
		options: { site: { type: "string" }, scopes: { type: "string" }, name: { type: "string" }, id: { type: "string" }, "persist-to": { type: "string" }, help: { type: "boolean", short: "h" } },
	});
	const [command] = positionals;
	const persistTo = values["persist-to"];
	if (values.help || !command) {
		console.log(usage);
		process.exit(command ? 0 : 2);
	}
	if (command === "create") {
		if (!values.scopes) throw new Error("--scopes is required (comma list of ingest, read, admin)");
		const scopes = values.scopes.split(",").map((s) => s.trim()).filter(Boolean);
		const site = values.site ?? null;
		if (site !== null) {
			const rows = await d1(`SELECT id FROM sites WHERE id = '${site.replace(/'/g, "''")}'`, persistTo);
			if (!rows.length) throw new Error(`site '${site}' does not exist in the local database (run npm start first, or create it with POST /api/v1/sites)`);
		}
		const key = newKey();
		const name = values.name ?? `cli ${new Date().toISOString().slice(0, 16).replace("T", " ")}`;
		await d1(insertKeySql({ id: key.id, hash: key.hash, site, name, scopes }), persistTo);
		console.log(`Created key ${key.id} (${site === null ? "account-wide" : `site ${site}`}, scopes ${scopes.join(",")}, name "${name}").`);
		console.log("It is shown once; use it as 'Authorization: Bearer <key>':");
		console.log(key.secret);
	} else if (command === "list") {
		const where = values.site ? `WHERE site = '${values.site.replace(/'/g, "''")}'` : "";
		const rows = await d1(`SELECT id, site, name, scopes, created_at, last_used_at, revoked_at FROM api_keys ${where} ORDER BY created_at`, persistTo);
		if (!rows.length) console.log("no keys");
		const when = (ms) => (ms ? new Date(ms).toISOString().slice(0, 16).replace("T", " ") : "—");
		for (const r of rows) console.log(`${r.id}  ${(r.site ?? "(account)").padEnd(12)} ${JSON.parse(r.scopes).join(",").padEnd(18)} created ${when(r.created_at)}  used ${when(r.last_used_at)}  ${r.revoked_at ? `REVOKED ${when(r.revoked_at)}` : "live"}  ${r.name}`);
	} else if (command === "revoke") {
		if (!values.id || !/^[0-9a-f]{12}$/.test(values.id)) throw new Error("--id must be a 12-hex key id (see `npm run key -- list`)");
		const rows = await d1(`UPDATE api_keys SET revoked_at = ${Date.now()} WHERE id = '${values.id}' AND revoked_at IS NULL RETURNING id`, persistTo);
		if (!rows.length) throw new Error(`no live key ${values.id}`);
		console.log(`Revoked ${values.id} (effective in the running Worker within 30 s).`);
	} else {
		throw new Error(`unknown command '${command}'\n${usage}`);
	}
}

main().catch((err) => {
	console.error(`key: ${err.message}`);
	process.exit(1);
});
