/**
 * Dashboard roles and the one principal type shared by API keys and user sessions. A role maps to the
 * key scopes it may use, so every /api/v1 route keeps checking scopes only; finer per-KPI visibility
 * (the metric catalogue) reads `Role` and `ROLES` from here.
 */
import type { Scope } from "./keys";

export const ROLES = ["admin", "executive", "analyst", "operations"] as const;
export type Role = (typeof ROLES)[number];

/** Who makes a request: an API key (maybe bound to a site) or a dashboard user (account-wide). */
export type Principal = { kind: "key"; id: string; scopes: Scope[]; site: string | null } | { kind: "user"; id: string; email: string; role: Role };

const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
	admin: ["admin", "read", "ingest"],
	executive: ["read"],
	analyst: ["read"],
	operations: ["read"],
};

/** The key scopes a role grants (a fresh array: callers may keep it). */
export function roleScopes(role: Role): Scope[] {
	return [...ROLE_SCOPES[role]];
}

export function isRole(value: unknown): value is Role {
	return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

/** Scopes a principal holds: a key's own, or its role's. */
export function principalScopes(principal: Principal): Scope[] {
	return principal.kind === "key" ? [...principal.scopes] : roleScopes(principal.role);
}

/** Whether a principal may see customer PII (emails, names): the admin role, or a key with the admin scope. */
export function canSeePii(principal: Principal): boolean {
	return principal.kind === "user" ? principal.role === "admin" : principal.scopes.includes("admin");
}
