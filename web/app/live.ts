/**
 * The live snapshot over the WebSocket GET /api/v1/live: `{type:"snapshot", data}` first, then
 * `{type:"delta", data}` whose fields replace the snapshot's top-level fields. Reconnects with backoff
 * (1 s doubling to 30 s) and asks for a fresh snapshot after every reconnect.
 */
import { useEffect, useState } from "preact/hooks";
import type { LiveSnapshot } from "./api";

export type LiveStatus = "connecting" | "live" | "reconnecting" | "closed";

export function useLive(site: string): { snapshot: LiveSnapshot | null; status: LiveStatus; updatedAt: number | null } {
	const [state, setState] = useState<{ snapshot: LiveSnapshot | null; status: LiveStatus; updatedAt: number | null }>({ snapshot: null, status: "connecting", updatedAt: null });
	useEffect(() => {
		let ws: WebSocket | null = null;
		let retry = 0;
		let timer: ReturnType<typeof setTimeout> | undefined;
		let ping: ReturnType<typeof setInterval> | undefined;
		let stopped = false;
		setState({ snapshot: null, status: "connecting", updatedAt: null });

		const connect = () => {
			const proto = location.protocol === "https:" ? "wss:" : "ws:";
			ws = new WebSocket(`${proto}//${location.host}/api/v1/live?site=${encodeURIComponent(site)}`);
			ws.onopen = () => {
				retry = 0;
				// Keeps intermediaries from closing an idle socket; the server answers "pong".
				ping = setInterval(() => ws?.readyState === WebSocket.OPEN && ws.send("ping"), 30_000);
			};
			ws.onmessage = (ev) => {
				if (typeof ev.data !== "string" || ev.data === "pong") return;
				let msg: { type?: string; data?: Partial<LiveSnapshot> };
				try {
					msg = JSON.parse(ev.data) as typeof msg;
				} catch {
					return;
				}
				if (msg.type === "snapshot" && msg.data) {
					const data = msg.data as LiveSnapshot;
					setState({ snapshot: data, status: "live", updatedAt: Date.now() });
				} else if (msg.type === "delta" && msg.data) {
					const patch = msg.data;
					setState((s) => (s.snapshot ? { snapshot: { ...s.snapshot, ...patch }, status: "live", updatedAt: Date.now() } : s));
				}
			};
			ws.onclose = () => {
				clearInterval(ping);
				if (stopped) return;
				setState((s) => ({ ...s, status: "reconnecting" }));
				const delay = Math.min(30_000, 1000 * 2 ** retry++);
				timer = setTimeout(connect, delay);
			};
		};
		connect();
		return () => {
			stopped = true;
			clearTimeout(timer);
			clearInterval(ping);
			ws?.close();
		};
	}, [site]);
	return state;
}
