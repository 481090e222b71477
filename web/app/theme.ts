/**
 * Light and dark themes: CSS variables on :root switched by `data-theme`; the reader's choice is kept in
 * localStorage, else the system's preference is followed.
 */
import { useEffect, useState } from "preact/hooks";

export type Theme = "light" | "dark";
const KEY = "b2g-theme";
const listeners = new Set<(t: Theme) => void>();
const media = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;

function stored(): Theme | null {
	try {
		const v = localStorage.getItem(KEY);
		return v === "light" || v === "dark" ? v : null;
	} catch {
		return null;
	}
}

export function currentTheme(): Theme {
	return stored() ?? (media?.matches ? "dark" : "light");
}

function apply(t: Theme): void {
	document.documentElement.dataset.theme = t;
	for (const fn of listeners) fn(t);
}

export function initTheme(): void {
	apply(currentTheme());
	media?.addEventListener("change", () => stored() === null && apply(currentTheme()));
}

export function setTheme(t: Theme): void {
	try {
		localStorage.setItem(KEY, t);
	} catch {
		// private mode: the choice lasts this page only
	}
	apply(t);
}

/** The theme in force; re-renders the component when it changes. */
export function useTheme(): Theme {
	const [t, set] = useState<Theme>(currentTheme);
	useEffect(() => {
		listeners.add(set);
		return () => void listeners.delete(set);
	}, []);
	return t;
}

/** Colour-blind-safe series colours (Okabe–Ito), tuned per theme for contrast with the background. */
export const SERIES_COLORS: Record<Theme, string[]> = {
	light: ["#0060a0", "#c25e00", "#007a5a", "#b4277a", "#5f4b8b", "#8a6d00"],
	dark: ["#56b4e9", "#f0a030", "#2fc79a", "#e67ab8", "#b39ddb", "#e5c94a"],
};

export function cssVar(name: string): string {
	return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
