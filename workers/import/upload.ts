/**
 * Streams an upload into R2 as a multipart object, holding at most one part (8 MiB) in memory, so
 * files of hundreds of MB never sit whole in the Worker.
 */
import { ApiError } from "../lib/http";

/** R2 needs ≥ 5 MiB parts of one size (all but the last). */
export const PART_BYTES = 8 * 1024 * 1024;
export const MAX_IMPORT_BYTES = 2 * 1024 * 1024 * 1024;

/** Uploads `body` to `key`; returns the byte count. Aborts the multipart upload on any failure. */
export async function streamToR2(bucket: R2Bucket, key: string, body: ReadableStream<Uint8Array>, contentType: string): Promise<number> {
	const upload = await bucket.createMultipartUpload(key, { httpMetadata: { contentType } });
	const parts: R2UploadedPart[] = [];
	let buffer = new Uint8Array(PART_BYTES);
	let filled = 0;
	let total = 0;
	const flush = async (bytes: Uint8Array) => {
		parts.push(await upload.uploadPart(parts.length + 1, bytes));
	};
	try {
		const reader = body.getReader();
		for (;;) {
			const { done, value } = await reader.read();
			if (done) break;
			total += value.byteLength;
			if (total > MAX_IMPORT_BYTES) {
				await reader.cancel();
				throw new ApiError(413, "body_too_large", `an import file may be at most ${MAX_IMPORT_BYTES} bytes`, [{ field: "body", message: "too large" }]);
			}
			let offset = 0;
			while (offset < value.byteLength) {
				const n = Math.min(PART_BYTES - filled, value.byteLength - offset);
				buffer.set(value.subarray(offset, offset + n), filled);
				filled += n;
				offset += n;
				if (filled === PART_BYTES) {
					await flush(buffer);
					buffer = new Uint8Array(PART_BYTES);
					filled = 0;
				}
			}
		}
		if (total === 0) throw new ApiError(400, "empty_file", "the uploaded file is empty", [{ field: "body", message: "empty" }]);
		if (filled > 0) await flush(buffer.subarray(0, filled));
		await upload.complete(parts);
		return total;
	} catch (err) {
		await upload.abort();
		throw err;
	}
}
