/** Pure classification: bots, user agents, traffic sources, currency minor units, retry backoff. */
import { describe, expect, it } from "vitest";
import { classifySource, isBotUserAgent, parseUserAgent } from "../workers/ingest/classify";
import { toMinor } from "../workers/lib/money";
import { backoffSeconds } from "../workers/pipeline/consumer";
import { BROWSER_UA, MOBILE_UA } from "./helpers";

describe("bot filtering", () => {
	it.each([
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
		"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
		"curl/8.5.0",
		"python-requests/2.31.0",
		"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
		"",
		"x",
	])("flags %s", (ua) => expect(isBotUserAgent(ua)).toBe(true));

	it.each([BROWSER_UA, MOBILE_UA, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"])("lets people through: %s", (ua) =>
		expect(isBotUserAgent(ua)).toBe(false),
	);
});

describe("user agent", () => {
	it("parses desktop Chrome on macOS and Safari on iPhone", () => {
		expect(parseUserAgent(BROWSER_UA)).toEqual({ device: "desktop", browser: "Chrome", os: "macOS" });
		expect(parseUserAgent(MOBILE_UA)).toEqual({ device: "mobile", browser: "Safari", os: "iOS" });
	});
	it("parses an iPad as a tablet", () => {
		const ipad = "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
		expect(parseUserAgent(ipad).device).toBe("tablet");
	});
});

describe("traffic source and channel", () => {
	const page = (q = "") => new URL(`https://shop.example/p/whey${q}`);
	it.each([
		["no referrer", page(), "", "direct", null],
		["Google organic", page(), "https://www.google.com/", "organic_search", "Google"],
		["Google UK organic", page(), "https://www.google.co.uk/", "organic_search", "Google"],
		["Bing organic", page(), "https://www.bing.com/search?q=whey", "organic_search", "Bing"],
		["paid search by utm", page("?utm_source=google&utm_medium=cpc&utm_campaign=bf"), "https://www.google.com/", "paid_search", "google"],
		["paid search by gclid", page("?gclid=abc"), "https://www.google.com/", "paid_search", "Google"],
		["Instagram social", page(), "https://l.instagram.com/", "social", "Instagram"],
		["Facebook paid social", page("?utm_source=facebook&utm_medium=cpc"), "https://m.facebook.com/", "paid_social", "facebook"],
		["newsletter", page("?utm_source=newsletter&utm_medium=email"), "", "email", "newsletter"],
		["webmail referrer", page(), "https://mail.google.com/mail/u/0/", "email", "mail.google.com"],
		["affiliate", page("?utm_source=fitblog&utm_medium=affiliate"), "https://fitblog.example/", "affiliate", "fitblog"],
		["referral", page(), "https://forum.example/thread/1", "referral", "forum.example"],
		["internal navigation", page(), "https://shop.example/", "internal", null],
		["malformed referrer", page(), "not a url", "direct", null],
	])("%s", (_label, url, referrer, channel, source) => {
		const s = classifySource(url, referrer);
		expect(s.channel).toBe(channel);
		expect(s.ref_source).toBe(source);
	});

	it("keeps every UTM parameter", () => {
		const s = classifySource(new URL("https://shop.example/?utm_source=ig&utm_medium=social&utm_campaign=jan&utm_term=whey&utm_content=reel"), "");
		expect(s).toMatchObject({ utm_source: "ig", utm_medium: "social", utm_campaign: "jan", utm_term: "whey", utm_content: "reel", channel: "social" });
	});
});

describe("money", () => {
	it("stores amounts as integer minor units of the currency", () => {
		expect(toMinor(59.9, "EUR")).toBe(5990);
		expect(toMinor(0.1 + 0.2, "EUR")).toBe(30);
		expect(toMinor(1500, "JPY")).toBe(1500);
		expect(toMinor(1.234, "BHD")).toBe(1234);
		expect(toMinor(-2.5, "EUR")).toBe(-250);
	});
	it("converts decimal strings exactly, rounding half away from zero past the currency's digits", () => {
		expect(toMinor("19.99", "EUR")).toBe(1999);
		expect(toMinor("19.9", "EUR")).toBe(1990);
		expect(toMinor("19", "EUR")).toBe(1900);
		expect(toMinor("0.005", "EUR")).toBe(1);
		expect(toMinor("0.0049", "EUR")).toBe(0);
		expect(toMinor("-3.10", "EUR")).toBe(-310);
		expect(toMinor("1500", "JPY")).toBe(1500);
		expect(toMinor("123456789.12", "EUR")).toBe(12345678912);
	});
});

describe("retry backoff", () => {
	it("doubles from the base and caps at 5 minutes", () => {
		expect([1, 2, 3, 4, 5, 6].map((a) => backoffSeconds(a, 2))).toEqual([2, 4, 8, 16, 32, 64]);
		expect(backoffSeconds(20, 2)).toBe(300);
		expect(backoffSeconds(3, 0)).toBe(0);
	});
});
