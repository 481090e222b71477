/**
 * The reader's locale, as Intl takes it. Chromium reports the process locale in navigator.language, and
 * under LANG=C that is "en-US@posix": not a BCP 47 tag, so `new Intl.NumberFormat(navigator.language)`
 * throws (RangeError: Invalid language tag). LOCALE is the first of navigator.languages that Intl
 * accepts, a POSIX name read as the tag it means ("en-US@posix" → en-US, "de_DE.UTF-8" → de-DE), else "en".
 *
 * Imported first by main.tsx: when the browser's own tags are not valid, this also replaces
 * navigator.language and navigator.languages with the accepted ones, so that libraries reading them
 * cannot throw either (uPlot builds `new Intl.NumberFormat(navigator.language)` when its module loads:
 * with "en-US@posix" the page's code failed to load and nothing rendered below the controls).
 */

/** `tag` as Intl accepts it (canonical), or null when Intl refuses it or has no data for it. */
function accepted(tag: string): string | null {
	try {
		return Intl.NumberFormat.supportedLocalesOf(tag)[0] ?? null;
	} catch {
		return null; // not a BCP 47 tag
	}
}

/** The tags of `tags` that Intl accepts, in order, without repeats; POSIX names read as BCP 47. */
export function acceptedLocales(tags: readonly (string | null | undefined)[]): string[] {
	const out: string[] = [];
	for (const tag of tags) {
		if (!tag) continue;
		const locale = accepted(tag) ?? accepted(tag.replace(/[.@].*$/, "").replace(/_/g, "-"));
		if (locale && !out.includes(locale)) out.push(locale);
	}
	return out;
}

const isTag = (tag: string | undefined) => {
	try {
		return !!tag && Intl.getCanonicalLocales(tag).length > 0;
	} catch {
		return false;
	}
};

const nav = typeof navigator === "undefined" ? undefined : navigator;
const readerTags = nav ? [...(nav.languages ?? []), nav.language] : [];
const readerLocales = acceptedLocales(readerTags);

/** The locale every number and date of the dashboard is written in. */
export const LOCALE: string = readerLocales[0] ?? "en";

if (nav && !readerTags.every(isTag)) {
	const languages = Object.freeze(readerLocales.length ? readerLocales : [LOCALE]);
	try {
		Object.defineProperty(nav, "language", { configurable: true, get: () => LOCALE });
		Object.defineProperty(nav, "languages", { configurable: true, get: () => languages });
	} catch {
		// Left as it is: the dashboard's own formatting uses LOCALE either way.
	}
}
