// The dashboard's theme before first paint (no flash): the saved choice, else the system's. A classic,
// render-blocking script in the page's <head>, kept in a file because the CSP allows no inline script
// (workers/lib/security-headers.ts). web/app/theme.ts owns the theme after the app has loaded.
try {
	document.documentElement.dataset.theme = localStorage.getItem("b2g-theme") || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
} catch (e) {}
