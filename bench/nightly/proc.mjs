/**
 * Linux /proc sampling of the workerd process behind a `wrangler dev`: finds it among the descendants of
 * the wrangler child, then samples its resident memory and CPU time on a fixed interval.
 *
 * wrangler dev runs two workerd processes: a small proxy that owns the dev port
 * (`--socket-addr=entry=127.0.0.1:<port>`) and the runtime that runs the Worker, its Durable Objects,
 * Workflows and the local D1/R2 simulators (`entry=127.0.0.1:0`, `--inspector-addr`). We sample the runtime.
 *
 * Peak memory without missing short spikes: each sample reads VmHWM (the kernel's resident high-water mark)
 * and then resets it by writing 5 to /proc/<pid>/clear_refs (Linux >= 4.0; only the peak is reset), so a
 * sample's `peakKb` is the highest RSS since the previous sample, not just the RSS at that instant. When the
 * reset is not permitted, `peakKb` falls back to VmRSS at the sample (and `hwmReset` is false).
 */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 on every Linux we run on). */
export const CLK_TCK = (() => {
	try {
		const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
		return Number.isInteger(n) && n > 0 ? n : 100;
	} catch {
		return 100;
	}
})();

/** comm and ppid of a process, or null when it is gone. */
function statOf(pid) {
	try {
		const s = readFileSync(`/proc/${pid}/stat`, "utf8");
		const close = s.lastIndexOf(")");
		const fields = s.slice(close + 2).split(" ");
		// fields[0] = state (stat field 3), so stat field k is fields[k - 3].
		return { comm: s.slice(s.indexOf("(") + 1, close), ppid: Number(fields[1]), utime: Number(fields[11]), stime: Number(fields[12]) };
	} catch {
		return null;
	}
}

/** Every live descendant of `root` (children, grandchildren, …), from one pass over /proc. */
export function descendants(root) {
	const children = new Map();
	for (const name of readdirSync("/proc")) {
		if (!/^\d+$/.test(name)) continue;
		const st = statOf(name);
		if (!st) continue;
		const pid = Number(name);
		if (!children.has(st.ppid)) children.set(st.ppid, []);
		children.get(st.ppid).push({ pid, comm: st.comm });
	}
	const out = [];
	const queue = [root];
	while (queue.length) {
		for (const c of children.get(queue.shift()) ?? []) {
			out.push(c);
			queue.push(c.pid);
		}
	}
	return out;
}

const cmdline = (pid) => {
	try {
		return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
	} catch {
		return "";
	}
};

/** VmRSS and VmHWM in kB, or null when the process is gone. */
function memOf(pid) {
	try {
		const s = readFileSync(`/proc/${pid}/status`, "utf8");
		return { rssKb: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1]), hwmKb: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1]) };
	} catch {
		return null;
	}
}

/**
 * The runtime workerd under wrangler dev `wranglerPid` serving `port`: { pid, proxyPid, cmd }. Throws when
 * there is none (not Linux, or wrangler has not started it).
 */
export function findWorkerd(wranglerPid, port) {
	const all = descendants(wranglerPid).filter((p) => p.comm === "workerd");
	if (!all.length) throw new Error(`no workerd process among the descendants of wrangler (pid ${wranglerPid})`);
	const isProxy = (p) => cmdline(p.pid).includes(`entry=127.0.0.1:${port} `) || cmdline(p.pid).endsWith(`entry=127.0.0.1:${port}`);
	const runtimes = all.filter((p) => !isProxy(p));
	const pick = (runtimes.length ? runtimes : all).map((p) => ({ ...p, rss: memOf(p.pid)?.rssKb ?? 0 })).sort((a, b) => b.rss - a.rss)[0];
	return { pid: pick.pid, proxyPid: all.find(isProxy)?.pid ?? null, cmd: cmdline(pick.pid), workerds: all.length };
}

/**
 * Samples `pid` every `intervalMs`: { t (epoch ms), rssKb, peakKb (highest RSS since the previous sample),
 * cpuTicks (utime + stime, cumulative) }. `stop()` ends it and returns the samples.
 */
export function sampleProcess(pid, intervalMs = 50) {
	const samples = [];
	let hwmReset = true;
	const resetPeak = () => {
		if (!hwmReset) return;
		try {
			writeFileSync(`/proc/${pid}/clear_refs`, "5");
		} catch {
			hwmReset = false;
		}
	};
	const take = () => {
		const mem = memOf(pid);
		const st = statOf(pid);
		if (!mem || !st) return;
		samples.push({ t: Date.now(), rssKb: mem.rssKb, peakKb: hwmReset ? Math.max(mem.hwmKb, mem.rssKb) : mem.rssKb, cpuTicks: st.utime + st.stime });
		resetPeak();
	};
	resetPeak();
	take();
	const timer = setInterval(take, intervalMs);
	return {
		samples,
		get hwmReset() {
			return hwmReset;
		},
		/** Cumulative CPU ms of the process now. */
		cpuMsNow: () => {
			const st = statOf(pid);
			return st ? ((st.utime + st.stime) * 1000) / CLK_TCK : null;
		},
		stop() {
			clearInterval(timer);
			take();
			return samples;
		},
	};
}

/** Cumulative CPU ms at epoch ms `t`, linearly interpolated between the samples around it. */
export function cpuMsAt(samples, t) {
	if (!samples.length) return null;
	if (t <= samples[0].t) return (samples[0].cpuTicks * 1000) / CLK_TCK;
	for (let i = 1; i < samples.length; i++) {
		const b = samples[i];
		if (b.t < t) continue;
		const a = samples[i - 1];
		const f = b.t === a.t ? 1 : (t - a.t) / (b.t - a.t);
		return ((a.cpuTicks + f * (b.cpuTicks - a.cpuTicks)) * 1000) / CLK_TCK;
	}
	return (samples.at(-1).cpuTicks * 1000) / CLK_TCK;
}

/**
 * What the process did in [from, to] (epoch ms): CPU ms (interpolated), the highest `peakKb` of the sample
 * intervals that overlap the window, RSS of the last sample at or before `from`, and how many samples fell in.
 */
export function window(samples, from, to) {
	let peakKb = null;
	let startRssKb = samples[0]?.rssKb ?? null;
	let n = 0;
	for (let i = 0; i < samples.length; i++) {
		const s = samples[i];
		const prevT = i > 0 ? samples[i - 1].t : s.t;
		if (s.t <= from) startRssKb = s.rssKb;
		// Sample i covers (prevT, s.t]: its peak belongs to the window when the two overlap.
		if (s.t >= from && prevT <= to) {
			peakKb = Math.max(peakKb ?? 0, s.peakKb);
			n++;
		}
	}
	const a = cpuMsAt(samples, from);
	const b = cpuMsAt(samples, to);
	return { cpuMs: a === null || b === null ? null : b - a, peakKb, startRssKb, samples: n };
}
