/**
 * What a notification says, in each channel's format. Pure: an alert event in, bodies out.
 *
 * - webhook: the event as JSON (`AlertEvent`), signed by delivery.ts;
 * - Slack: an incoming-webhook message, `text` (the fallback and notification line) plus `blocks`;
 * - email: a plain-text RFC 5322 message (UTF-8, base64 body) for the send_email binding.
 */
import { z } from "zod";
import { ALERT_STATES, COMPARATORS, RESOLUTIONS, SEVERITIES, THRESHOLD_KINDS, TRIGGERS, WINDOWS } from "../db/alerts";

export type AlertState = (typeof ALERT_STATES)[number];

const nullableNumber = z.number().nullable();

/** The JSON body of a webhook notification (and what Slack and email messages are made from). */
export const alertEventSchema = z.object({
	id: z.string().describe("`<alert id>:<state>`: the same for every channel of one notification"),
	type: z.enum(["alert.firing", "alert.resolved"]),
	site: z.string(),
	alert: z.object({
		id: z.string(),
		rule_id: z.string(),
		rule_name: z.string(),
		severity: z.enum(SEVERITIES),
		metric: z.string(),
		metric_name: z.string(),
		unit: z.string(),
		currency: z.string().nullable().describe("the site currency when `unit` is `currency` (values are in major units)"),
		key: z.string().describe("'' for a site-wide metric, the SKU for inventory"),
		label: z.string().nullable(),
		state: z.enum(ALERT_STATES),
		resolution: z.enum(RESOLUTIONS).nullable(),
		comparator: z.enum(COMPARATORS),
		threshold_kind: z.enum(THRESHOLD_KINDS),
		threshold: z.number(),
		window: z.enum(WINDOWS),
		baseline_days: z.number().int().nullable(),
		value: nullableNumber,
		baseline: nullableNumber,
		limit: nullableNumber.describe("what the value was compared with: the threshold, or threshold × baseline"),
		period: z.string(),
		opened_by: z.enum(TRIGGERS),
		started_at: z.number().int(),
		resolved_at: z.number().int().nullable(),
	}),
	message: z.string().describe("one line for people (the Slack `text`, the email's first line)"),
});
export type AlertEvent = z.infer<typeof alertEventSchema>;

/** A value in its unit, for people: `70.00 EUR`, `12.5%`, `3`. */
export function formatValue(value: number | null, unit: string, currency: string | null): string {
	if (value === null) return "n/a";
	const round = (digits: number) => Number(value.toFixed(digits)).toString();
	if (unit === "currency") return `${value.toFixed(2)}${currency ? ` ${currency}` : ""}`;
	if (unit === "percent") return `${round(2)}%`;
	if (unit === "count") return round(2);
	return round(4);
}

const WINDOW_TEXT: Record<(typeof WINDOWS)[number], string> = { yesterday: "the last complete day", today: "today so far", now: "now" };

/** The one-line summary of an event: what was observed, against what, for which period. */
export function alertMessage(e: Omit<AlertEvent, "message">): string {
	const a = e.alert;
	const fmt = (v: number | null) => formatValue(v, a.unit, a.currency);
	const subject = `${a.metric_name}${a.label ? ` of ${a.label}` : ""}`;
	const against =
		a.threshold_kind === "absolute"
			? `${a.comparator} ${fmt(a.limit)}`
			: `${a.comparator} ${fmt(a.limit)} (${Number((a.threshold * 100).toFixed(2))}% of ${a.baseline_days ? `the ${a.baseline_days}-day average` : "the baseline"} ${fmt(a.baseline)})`;
	const site = `site ${e.site}`;
	if (a.state === "firing") return `${a.rule_name} [${a.severity}] on ${site}: ${subject} is ${fmt(a.value)}, ${against}, ${a.period} (${WINDOW_TEXT[a.window]})`;
	const why = a.resolution === "cleared" ? `${subject} is ${fmt(a.value)}, no longer ${against}, ${a.period}` : a.resolution === "rule_disabled" ? "the rule was disabled" : "the rule was deleted";
	return `Resolved: ${a.rule_name} [${a.severity}] on ${site}: ${why}`;
}

/** Slack's mrkdwn needs &, < and > escaped (https://api.slack.com/reference/surfaces/formatting#escaping). */
const slackEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** An incoming-webhook message: `text` (shown in notifications) and `blocks` (the message itself). */
export function slackMessage(e: AlertEvent): { text: string; blocks: object[] } {
	const a = e.alert;
	const icon = a.state === "resolved" ? ":white_check_mark:" : a.severity === "critical" ? ":red_circle:" : a.severity === "warning" ? ":warning:" : ":information_source:";
	return {
		text: `${icon} ${slackEscape(e.message)}`,
		blocks: [
			{ type: "header", text: { type: "plain_text", text: `${a.state === "firing" ? "Firing" : "Resolved"}: ${a.rule_name}`.slice(0, 150), emoji: true } },
			{ type: "section", text: { type: "mrkdwn", text: `${icon} ${slackEscape(e.message)}` } },
			{
				type: "context",
				elements: [{ type: "mrkdwn", text: slackEscape(`site ${e.site} · severity ${a.severity} · rule ${a.rule_id} · metric ${a.metric}${a.key ? ` · ${a.key}` : ""} · alert ${a.id}`) }],
			},
		],
	};
}

function base64Utf8(text: string): string {
	const bytes = new TextEncoder().encode(text);
	let bin = "";
	for (const b of bytes) bin += String.fromCharCode(b);
	return btoa(bin);
}

/** A header value in RFC 2047 form when it is not plain ASCII. */
function encodeHeader(value: string): string {
	return /^[\x20-\x7e]*$/.test(value) ? value : `=?UTF-8?B?${base64Utf8(value)}?=`;
}

export interface EmailParts {
	from: string;
	to: string;
	subject: string;
	text: string;
	/** Unique id of this message (the delivery id): becomes the Message-ID's local part. */
	id: string;
	date: Date;
	/** Display name of the sender (default "Brain2Gain Alerts"). */
	fromName?: string;
	/** An HTML version of `text` (the two become a multipart/alternative; mail clients show the HTML). */
	html?: string;
	/** Files attached to the message (UTF-8 text: the scheduled reports' CSV tables). */
	attachments?: { filename: string; contentType: string; content: string }[];
}

const base64Lines = (text: string) => base64Utf8(text).replace(/.{76}/g, "$&\r\n");

/** A MIME part: its headers, a blank line, its base64 body. */
function part(headers: string[], content: string): string {
	return [...headers, "Content-Transfer-Encoding: base64", "", base64Lines(content)].join("\r\n");
}

/** Parts under a multipart boundary (RFC 2046 §5.1.1). */
function multipart(boundary: string, parts: string[]): string {
	return [...parts.map((p) => `--${boundary}\r\n${p}`), `--${boundary}--`].join("\r\n");
}

/**
 * A raw RFC 5322 message, CRLF line ends, base64 bodies in 76-character lines: plain text (UTF-8); with
 * `html`, a multipart/alternative of the text and the HTML; with `attachments`, a multipart/mixed of
 * that and each file. Boundaries start with "=_", which base64 never contains.
 */
export function emailMime(p: EmailParts): string {
	const domain = p.from.split("@")[1] ?? "localhost";
	const headers = [
		`From: ${encodeHeader(p.fromName ?? "Brain2Gain Alerts")} <${p.from}>`,
		`To: <${p.to}>`,
		`Subject: ${encodeHeader(p.subject)}`,
		`Date: ${p.date.toUTCString().replace("GMT", "+0000")}`,
		`Message-ID: <${p.id.replace(/[^A-Za-z0-9._-]/g, ".")}@${domain}>`,
		`X-B2G-Delivery: ${p.id}`,
		"MIME-Version: 1.0",
	];
	const text = ["Content-Type: text/plain; charset=utf-8"];
	if (p.html === undefined && !p.attachments?.length) return `${[...headers, ...text, "Content-Transfer-Encoding: base64", "", base64Lines(p.text), ""].join("\r\n")}`;
	const tag = Array.from(new TextEncoder().encode(p.id).slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
	const alternative = `=_b2g_alt_${tag}`;
	const mixed = `=_b2g_mixed_${tag}`;
	const body =
		p.html === undefined
			? part(text, p.text)
			: `Content-Type: multipart/alternative; boundary="${alternative}"\r\n\r\n${multipart(alternative, [part(text, p.text), part(["Content-Type: text/html; charset=utf-8"], p.html)])}`;
	if (!p.attachments?.length) return `${[...headers, body, ""].join("\r\n")}`;
	const files = p.attachments.map((a) => {
		const name = a.filename.replace(/[^A-Za-z0-9._-]/g, "_");
		return part([`Content-Type: ${a.contentType}; name="${name}"`, `Content-Disposition: attachment; filename="${name}"`], a.content);
	});
	return `${[...headers, `Content-Type: multipart/mixed; boundary="${mixed}"`, "", multipart(mixed, [body, ...files]), ""].join("\r\n")}`;
}

/** The subject and text of an alert email. */
export function emailContent(e: AlertEvent): { subject: string; text: string } {
	const a = e.alert;
	const fmt = (v: number | null) => formatValue(v, a.unit, a.currency);
	const subject = `[${a.severity}] ${a.state === "firing" ? "" : "Resolved: "}${a.rule_name}${a.label ? ` (${a.label})` : ""} on ${e.site}`;
	const lines = [
		e.message,
		"",
		`Rule: ${a.rule_name} (${a.rule_id}), severity ${a.severity}`,
		`Metric: ${a.metric_name} (${a.metric})${a.key ? `, ${a.key}` : ""}`,
		`Value: ${fmt(a.value)} for ${a.period}`,
		`Limit: ${a.comparator} ${fmt(a.limit)}${a.threshold_kind === "relative" ? ` = ${a.threshold} × baseline ${fmt(a.baseline)}` : ""}`,
		`Started: ${new Date(a.started_at).toISOString()}`,
		...(a.resolved_at === null ? [] : [`Resolved: ${new Date(a.resolved_at).toISOString()}`]),
		`Alert id: ${a.id}`,
	];
	return { subject, text: `${lines.join("\n")}\n` };
}
