/**
 * Per-site connector secrets (D1 `connector_secrets`, migration 0020). Shopify and Stripe issue the
 * signing secret (Shopify: the app's client secret or the store's notification key; Stripe: the endpoint's
 * `whsec_…`), so the admin pastes it in; WooCommerce lets the merchant type any secret, so we make one.
 */
import type { Platform } from "./common";

/** The site's secret for a platform, or null when the platform is not connected. */
export async function connectorSecret(db: D1Database, site: string, platform: Platform): Promise<string | null> {
	const row = await db.prepare("SELECT secret FROM connector_secrets WHERE site = ? AND platform = ?").bind(site, platform).first<{ secret: string }>();
	return row?.secret ?? null;
}

/** Stores (or replaces) a secret: the old one stops verifying at once. */
export async function putConnectorSecret(db: D1Database, site: string, platform: Platform, secret: string, now = Date.now()): Promise<void> {
	await db
		.prepare("INSERT INTO connector_secrets (site, platform, secret, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (site, platform) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at")
		.bind(site, platform, secret, now)
		.run();
}

/** Disconnects a platform; true when it was connected. */
export async function deleteConnectorSecret(db: D1Database, site: string, platform: Platform): Promise<boolean> {
	const res = await db.prepare("DELETE FROM connector_secrets WHERE site = ? AND platform = ?").bind(site, platform).run();
	return (res.meta.changes ?? 0) > 0;
}

/** The connected platforms of a site, with when each secret was set. */
export async function listConnectors(db: D1Database, site: string): Promise<{ platform: Platform; secret: string; created_at: number }[]> {
	const { results } = await db.prepare("SELECT platform, secret, created_at FROM connector_secrets WHERE site = ? ORDER BY platform").bind(site).all<{ platform: Platform; secret: string; created_at: number }>();
	return results;
}

/** 32 random bytes as 64 hex digits. */
export function newSecret(): string {
	return [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The last 4 characters, for answers that must not show a secret. */
export const secretHint = (secret: string) => `…${secret.slice(-4)}`;
