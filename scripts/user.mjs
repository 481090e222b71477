#!/usr/bin/env node
/**
 * `npm run user -- <command>`: dashboard users in the local stack's D1 (.wrangler/state, or --persist-to DIR).
 *
 *   create --email a@b.c --role admin|executive|analyst|operations   prints a one-time login link
 *   list                                                               id, email, role, created, last login, state
 *   link --email a@b.c                                                 a new one-time login link
 *   disable --email a@b.c                                              ends the user's sessions at once
 *   enable --email a@b.c
 *
 * Links are for the origin `npm start` serves (PORT if set, else the one the running npm start recorded in
 * .wrangler/b2g-origin, else http://localhost:8787) unless --url says otherwise, valid 15 minutes and usable once.
 * Removing a user for good, and everything else, is the admin API: /api/v1/users.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { insertLoginTokenSql, insertUserSql, loginUrl, newLoginToken, newUserId, normalizeEmail, ROLES } from "./lib/users.mjs";
import { d1Json, DEV_ORIGIN_FILE, runWrangler } from "./lib/wrangler.mjs";

const usage = `usage: npm run user -- create --email EMAIL --role ${ROLES.join("|")} [--url URL] [--persist-to DIR]
       npm run user -- list [--persist-to DIR]
       npm run user -- link --email EMAIL [--url URL] [--persist-to DIR]
       npm run user -- disable --email EMAIL [--persist-to DIR]
       npm run user -- enable --email EMAIL [--persist-to DIR]`;

const quote = (s) => `'${String(s).replace(/'/g, "''")}'`;

async function d1(sql, persistTo) {
	const argv = ["d1", "execute", "DB", "--local", "--json", "--command", sql];
	if (persistTo) argv.push("--persist-to", persistTo);
	const { stdout } = await runWrangler(argv, { timeoutMs: 120_000 });
	return d1Json(stdout).at(-1)?.results ?? [];
}

/** The live (not deleted) user with this email, or an error saying what to do. */
async function userByEmail(email, persistTo) {
	const rows = await d1(`SELECT id, email, role, disabled_at FROM users WHERE email = ${quote(email)} AND deleted_at IS NULL`, persistTo);
	if (!rows.length) throw new Error(`no user '${email}' in the local database (see \`npm run user -- list\`)`);
	return rows[0];
}

/** Stores a new login token for a live, enabled user and returns its URL. */
async function mintLink(userId, origin, persistTo) {
	const t = newLoginToken();
	const rows = await d1(`${insertLoginTokenSql({ hash: t.hash, userId })}; SELECT COUNT(*) AS n FROM login_tokens WHERE token_hash = ${quote(t.hash)}`, persistTo);
	if (Number(rows[0]?.n) !== 1) throw new Error("the user is disabled or deleted: no link was made");
	return loginUrl(origin, t.token);
}

/** Where `npm start` serves: PORT when set, else what the running (or last) npm start wrote, else :8787. */
function devOrigin() {
	if (process.env.PORT) return `http://localhost:${process.env.PORT}`;
	try {
		return readFileSync(DEV_ORIGIN_FILE, "utf8").trim() || "http://localhost:8787";
	} catch {
		return "http://localhost:8787";
	}
}

async function main() {
	const { positionals, values } = parseArgs({
		allowPositionals: true,
		options: { email: { type: "string" }, role: { type: "string" }, url: { type: "string" }, "persist-to": { type: "string" }, help: { type: "boolean", short: "h" } },
	});
	const [command] = positionals;
	const persistTo = values["persist-to"];
	const origin = values.url ?? devOrigin();
	if (values.help || !command) {
		console.log(usage);
		process.exit(command ? 0 : 2);
	}
	if (command === "list") {
		const rows = await d1("SELECT id, email, role, created_at, last_login_at, disabled_at FROM users WHERE deleted_at IS NULL ORDER BY created_at", persistTo);
		if (!rows.length) console.log("no users");
		const when = (ms) => (ms ? new Date(ms).toISOString().slice(0, 16).replace("T", " ") : "—");
		for (const r of rows) console.log(`${r.id}  ${r.role.padEnd(10)} ${r.disabled_at ? "DISABLED" : "active  "}  created ${when(r.created_at)}  last login ${when(r.last_login_at)}  ${r.email}`);
		return;
	}
	if (!values.email) throw new Error(`--email is required\n${usage}`);
	const email = normalizeEmail(values.email);
	if (command === "create") {
		if (!values.role || !ROLES.includes(values.role)) throw new Error(`--role must be one of ${ROLES.join(", ")}`);
		const existing = await d1(`SELECT id FROM users WHERE email = ${quote(email)} AND deleted_at IS NULL`, persistTo);
		if (existing.length) throw new Error(`a user '${email}' already exists (id ${existing[0].id}); make a new link with: npm run user -- link --email ${email}`);
		const id = newUserId();
		await d1(insertUserSql({ id, email, role: values.role }), persistTo);
		const url = await mintLink(id, origin, persistTo);
		console.log(`Created ${values.role} ${email} (id ${id}). One-time login link (valid 15 minutes, usable once):`);
		console.log(url);
	} else if (command === "link") {
		const user = await userByEmail(email, persistTo);
		if (user.disabled_at) throw new Error(`'${email}' is disabled; enable it first: npm run user -- enable --email ${email}`);
		const url = await mintLink(user.id, origin, persistTo);
		console.log(`One-time login link for ${email} (${user.role}; valid 15 minutes, usable once):`);
		console.log(url);
	} else if (command === "disable") {
		const user = await userByEmail(email, persistTo);
		const now = Date.now();
		await d1(`UPDATE users SET disabled_at = COALESCE(disabled_at, ${now}) WHERE id = ${quote(user.id)}; UPDATE user_sessions SET revoked_at = ${now} WHERE user_id = ${quote(user.id)} AND revoked_at IS NULL`, persistTo);
		console.log(`Disabled ${email}: their sessions ended now; their links no longer log in.`);
	} else if (command === "enable") {
		const user = await userByEmail(email, persistTo);
		// Links made before enabling do not come back to life.
		await d1(`UPDATE users SET disabled_at = NULL WHERE id = ${quote(user.id)}; DELETE FROM login_tokens WHERE user_id = ${quote(user.id)} AND used_at IS NULL`, persistTo);
		console.log(`Enabled ${email}. Make a login link with: npm run user -- link --email ${email}`);
	} else {
		throw new Error(`unknown command '${command}'\n${usage}`);
	}
}

main().catch((err) => {
	console.error(`user: ${err.message}`);
	process.exit(1);
});
