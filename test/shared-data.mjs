/**
 * vitest globalSetup (runs in Node, outside workerd, which has no file system): reads the public
 * reference data sets with published answers (CDNOW, Groceries; see shared/data/README.md) and hands
 * their text to the known-answer tests (test/analytics-clv.test.ts, test/analytics-basket.test.ts)
 * through `provide("sharedData", …)` / `inject("sharedData")`.
 *
 * The data lives outside the repository, in `shared/data/` beside the repository folder (locally and
 * in CI alike); B2G_SHARED_DATA overrides the path. When it is missing this setup does not throw,
 * which would stop every other test file too: it provides the error, and the tests that need the data
 * fail with it.
 */
import { readFile, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Files the tests read, relative to the data directory. */
const FILES = ["cdnow/CDNOW_sample.txt", "cdnow/cdnow_customers_summary.csv", "cdnow/cdnow_customers_summary_with_transactions.csv", "groceries.csv"];

export default async function setup({ provide }) {
	// This file is <repo>/test/shared-data.mjs, so the sibling of the repository is two levels up.
	const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
	const dir = process.env.B2G_SHARED_DATA ? resolve(process.env.B2G_SHARED_DATA) : resolve(repo, "..", "shared", "data");
	const files = {};
	let error = null;
	try {
		if (!(await stat(dir)).isDirectory()) throw new Error("not a directory");
		for (const name of FILES) files[name] = await readFile(resolve(dir, name), "utf8");
	} catch (e) {
		error =
			`Reference data missing: cannot read ${dir} (${e instanceof Error ? e.message : String(e)}). ` +
			"The known-answer tests need shared/data/ (CDNOW and Groceries) beside the repository folder, or B2G_SHARED_DATA pointing at it.";
	}
	provide("sharedData", { dir, error, files });
}
