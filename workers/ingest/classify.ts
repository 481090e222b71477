/** Pure request classification: bots, device/browser/OS, traffic source and channel. No bindings. */
import Bowser from "bowser";

const BOT_UA =
	/bot\b|bot\/|crawl|spider|slurp|mediapartners|bingpreview|facebookexternalhit|embedly|quora link preview|vkshare|w3c_validator|whatsapp|telegram|discord|skype|headless|phantomjs|puppeteer|playwright|selenium|webdriver|lighthouse|pagespeed|gtmetrix|pingdom|uptime|statuscake|monitor|prerender|curl\/|wget\/|httpie|python-requests|python-urllib|aiohttp|go-http-client|java\/|okhttp|axios\/|node-fetch|undici|libwww|scrapy|ahrefs|semrush|mj12|dotbot|petalbot|yandex|baidu|duckduck|applebot|gptbot|ccbot|claude|bytespider|amazonbot|perplexity/i;

/** True for crawler, monitor, script and headless-browser user agents (and an empty UA). */
export function isBotUserAgent(ua: string): boolean {
	return ua.trim().length < 10 || BOT_UA.test(ua);
}

export interface Client {
	device: "desktop" | "mobile" | "tablet" | "tv" | "other";
	browser: string | null;
	os: string | null;
}

/**
 * Parsed User-Agents of this isolate: a site's traffic comes from a few hundred browser builds, and
 * bowser's parse was ~2% of /e's CPU (issue 15 profile). Cleared when full rather than LRU: cheap and bounded.
 */
const clientCache = new Map<string, Client>();
const CLIENT_CACHE_MAX = 2000;

/** Device class, browser and OS names from a User-Agent string. */
export function parseUserAgent(ua: string): Client {
	const cached = clientCache.get(ua);
	if (cached) return { ...cached };
	const parsed = Bowser.parse(ua);
	const type = parsed.platform.type;
	const device = type === "mobile" || type === "tablet" || type === "desktop" || type === "tv" ? type : "other";
	const client: Client = { device, browser: parsed.browser.name ?? null, os: parsed.os.name ?? null };
	if (ua.length <= 512) {
		if (clientCache.size >= CLIENT_CACHE_MAX) clientCache.clear();
		clientCache.set(ua, client);
	}
	return { ...client };
}

export type Channel = "direct" | "organic_search" | "paid_search" | "social" | "paid_social" | "email" | "affiliate" | "referral" | "internal";

/** Column-named (snake_case) so it spreads straight into a StoredEvent. */
export interface Source {
	ref_source: string | null;
	channel: Channel;
	utm_source: string | null;
	utm_medium: string | null;
	utm_campaign: string | null;
	utm_term: string | null;
	utm_content: string | null;
}

const SEARCH: Record<string, string> = { google: "Google", bing: "Bing", yahoo: "Yahoo", duckduckgo: "DuckDuckGo", ecosia: "Ecosia", baidu: "Baidu", yandex: "Yandex", qwant: "Qwant", startpage: "Startpage", brave: "Brave Search" };
const SOCIAL: Record<string, string> = { facebook: "Facebook", fb: "Facebook", instagram: "Instagram", t: "X", twitter: "X", x: "X", linkedin: "LinkedIn", lnkd: "LinkedIn", pinterest: "Pinterest", reddit: "Reddit", tiktok: "TikTok", youtube: "YouTube", youtu: "YouTube", snapchat: "Snapchat", threads: "Threads", whatsapp: "WhatsApp" };
const EMAIL_HOSTS = /(^|\.)(mail\.google|outlook\.live|mail\.yahoo|mail\.proton|gmx|web\.de)\./;

/** The registrable-ish label that names a site: `www.google.co.uk` → `google`, `l.facebook.com` → `facebook`. */
function brandLabel(host: string): string {
	const parts = host.replace(/^www\./, "").split(".");
	if (parts.length <= 2) return parts[0] ?? "";
	const tld2 = parts.at(-2) ?? "";
	// co.uk, com.au and friends: the brand is one label further left
	return ["co", "com", "org", "net", "ac", "gov", "ne", "or"].includes(tld2) && (parts.at(-1)?.length ?? 0) === 2 ? (parts.at(-3) ?? "") : tld2;
}

/** Traffic source and marketing channel from the page URL's UTM tags and the referrer. */
export function classifySource(url: URL, referrer: string | null | undefined): Source {
	const q = url.searchParams;
	const utm = (k: string) => q.get(`utm_${k}`)?.slice(0, 256) || null;
	const utmSource = utm("source");
	const utmMedium = utm("medium");
	const base = { utm_source: utmSource, utm_medium: utmMedium, utm_campaign: utm("campaign"), utm_term: utm("term"), utm_content: utm("content") };

	let refHost: string | null = null;
	if (referrer) {
		try {
			refHost = new URL(referrer).hostname.toLowerCase();
		} catch {
			refHost = null;
		}
	}
	const label = refHost ? brandLabel(refHost) : "";
	const webmail = refHost !== null && EMAIL_HOSTS.test(refHost);
	const refName = webmail ? refHost : (SEARCH[label] ?? SOCIAL[label] ?? refHost);
	const medium = (utmMedium ?? "").toLowerCase();
	const sourceLabel = (utmSource ?? "").toLowerCase();
	const socialish = sourceLabel in SOCIAL || label in SOCIAL;

	const channel = ((): Channel => {
		if (/^(cpc|ppc|paid|paidsearch|paid_search|sem)$/.test(medium) || q.has("gclid") || q.has("msclkid")) return socialish ? "paid_social" : "paid_search";
		if (/^(paid_?social|social_?paid|cpm)$/.test(medium) || q.has("fbclid") && medium === "paid") return "paid_social";
		if (/^(e-?mail|newsletter|sms)$/.test(medium)) return "email";
		if (/^(affiliate|partner)$/.test(medium)) return "affiliate";
		if (/^(social|social-network|social-media|sm)$/.test(medium)) return "social";
		if (refHost && refHost === url.hostname.toLowerCase()) return "internal";
		if (webmail) return "email";
		if (refHost && label in SEARCH) return "organic_search";
		if (refHost && label in SOCIAL) return "social";
		if (utmSource && !refHost) return sourceLabel in SEARCH ? "organic_search" : socialish ? "social" : "referral";
		return refHost ? "referral" : "direct";
	})();
	return { ...base, ref_source: utmSource ?? (channel === "internal" ? null : refName), channel };
}
