// Empty baseline Worker for bench/ingest: 202, no body, for any request. The request body is not read.
export default {
	fetch() {
		return new Response(null, { status: 202 });
	},
};
