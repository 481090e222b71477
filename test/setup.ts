import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { hashKey } from "../workers/auth/keys";
import { ADMIN_KEY } from "./helpers";

// Setup files may run more than once; both steps are idempotent.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
await env.DB.batch([
	env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('demo', 'Demo store', '[]', 'UTC', 'EUR', 0) ON CONFLICT DO NOTHING"),
	env.DB.prepare(
		"INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('locked', 'Origin-locked store', '[\"https://shop.example\"]', 'UTC', 'EUR', 0) ON CONFLICT DO NOTHING",
	),
	env.DB.prepare("INSERT INTO api_keys (id, site, name, secret_hash, scopes, created_at) VALUES ('0000000000aa', NULL, 'test admin', ?, '[\"admin\"]', 0) ON CONFLICT DO NOTHING").bind(
		await hashKey(ADMIN_KEY),
	),
]);
