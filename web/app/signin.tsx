/**
 * Sign-in: the dashboard has no passwords. An admin makes a one-time link (valid 15 minutes); opening it
 * (GET /login?token=…, answered by the Worker) sets the session cookie and comes back here. A link can
 * also be pasted below.
 */
import { useState } from "preact/hooks";

/** The token of a pasted login link, or the pasted token itself. */
export function tokenOf(input: string): string | null {
	const s = input.trim();
	if (!s) return null;
	try {
		const url = new URL(s, location.origin);
		const t = url.searchParams.get("token");
		if (t) return t;
	} catch {
		// not a URL: maybe the bare token
	}
	return /^[A-Za-z0-9_-]{20,}$/.test(s) ? s : null;
}

export function SignIn() {
	const [value, setValue] = useState("");
	const [error, setError] = useState<string | null>(null);
	const submit = (e: Event) => {
		e.preventDefault();
		const token = tokenOf(value);
		if (!token) {
			setError("That is not a login link: it looks like http://…/login?token=…");
			return;
		}
		location.assign(`/login?token=${encodeURIComponent(token)}`);
	};
	return (
		<main id="main" class="signin">
			<section class="panel">
				<h1>Sign in to Brain2Gain Analytics</h1>
				<p>
					Sign-in uses one-time links instead of passwords. Ask an admin for a link (they make one in the users API), or, on the local stack, run{" "}
					<code>npm run user -- link --email you@example.com</code>. A link works once, for 15 minutes.
				</p>
				<form onSubmit={submit} class="signin-form">
					<label for="link">Login link</label>
					<input
						id="link"
						name="link"
						type="text"
						autoComplete="off"
						spellcheck={false}
						placeholder="http://localhost:8787/login?token=…"
						value={value}
						onInput={(e) => {
							setValue(e.currentTarget.value);
							setError(null);
						}}
						aria-invalid={error ? "true" : undefined}
						aria-describedby={error ? "link-error" : undefined}
					/>
					<button type="submit">Sign in</button>
				</form>
				{error && (
					<p id="link-error" class="msg err" role="alert">
						{error}
					</p>
				)}
			</section>
		</main>
	);
}
