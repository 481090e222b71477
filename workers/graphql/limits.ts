/**
 * Depth and complexity limits of a GraphQL operation, checked after the standard validation and
 * before anything runs. Pure: a document, a schema and the variables in, a verdict out.
 *
 * - Depth: the longest chain of nested selections (a top-level field is depth 1), through fragments.
 *   Introspection fields (`__schema`, `__type`, `__typename`) do not count: graphql-js's own
 *   MaxIntrospectionDepthRule (in the specified rules) already bounds their nesting.
 * - Complexity: each top-level field is one REST call and costs REST_CALL_COST; every selected field
 *   below it costs 1 times the estimated size of each list it is inside. A list's size is the root
 *   field's `limit` or `k` argument when the caller gives one (what REST returns at most), otherwise
 *   LIST_ESTIMATE. The number of top-level fields is also capped (MAX_ROOT_FIELDS): each is a REST call.
 */
import {
	getNamedType,
	GraphQLList,
	GraphQLNonNull,
	GraphQLObjectType,
	Kind,
	type FragmentDefinitionNode,
	type GraphQLOutputType,
	type GraphQLSchema,
	type OperationDefinitionNode,
	type SelectionSetNode,
	type ValueNode,
} from "graphql";

export const MAX_DEPTH = 8;
export const MAX_COMPLEXITY = 20_000;
export const MAX_ROOT_FIELDS = 20;
export const REST_CALL_COST = 100;
export const LIST_ESTIMATE = 10;
const LIST_SIZE_ARGS = new Set(["limit", "k"]);

/**
 * The longest chain of nested selections of an operation (a top-level field is 1), through fragments,
 * without introspection fields. Syntactic, so it runs before validation: a deeply nested document is
 * refused before any further work.
 */
export function depthOf(operation: OperationDefinitionNode, fragments: Map<string, FragmentDefinitionNode>): number {
	const walk = (set: SelectionSetNode, depth: number, seen: Set<string>): number => {
		let max = depth - 1;
		for (const sel of set.selections) {
			if (sel.kind === Kind.FRAGMENT_SPREAD) {
				const frag = fragments.get(sel.name.value);
				if (frag && !seen.has(frag.name.value)) max = Math.max(max, walk(frag.selectionSet, depth, new Set([...seen, frag.name.value])));
			} else if (sel.kind === Kind.INLINE_FRAGMENT) {
				max = Math.max(max, walk(sel.selectionSet, depth, seen));
			} else if (!sel.name.value.startsWith("__")) {
				max = Math.max(max, sel.selectionSet ? walk(sel.selectionSet, depth + 1, seen) : depth);
			}
		}
		return max;
	};
	return Math.max(0, walk(operation.selectionSet, 1, new Set()));
}

export interface Measure {
	depth: number;
	complexity: number;
	/** Top-level fields that call REST (aliases count: each is its own call). */
	rootFields: number;
}

export type LimitVerdict = { ok: true; measure: Measure } | { ok: false; code: "DEPTH_LIMIT" | "COMPLEXITY_LIMIT"; message: string; measure: Measure };

function isListType(t: GraphQLOutputType): boolean {
	const inner = t instanceof GraphQLNonNull ? t.ofType : t;
	return inner instanceof GraphQLList;
}

function intValue(node: ValueNode, variables: Record<string, unknown>): number | null {
	if (node.kind === Kind.INT) return Number(node.value);
	if (node.kind === Kind.VARIABLE) {
		const v = variables[node.name.value];
		return typeof v === "number" && Number.isFinite(v) ? v : null;
	}
	return null;
}

/** Measures one operation of a validated document. */
export function measure(schema: GraphQLSchema, operation: OperationDefinitionNode, fragments: Map<string, FragmentDefinitionNode>, variables: Record<string, unknown>): Measure {
	const root = schema.getRootType(operation.operation);
	let rootFields = 0;

	// Cost of a selection set on `parent`, `depth` levels down, inside lists of `multiplier` items in all.
	const walk = (set: SelectionSetNode, parent: GraphQLObjectType, depth: number, multiplier: number, listSize: number, seen: Set<string>): number => {
		let cost = 0;
		for (const sel of set.selections) {
			if (sel.kind === Kind.FRAGMENT_SPREAD) {
				const frag = fragments.get(sel.name.value);
				if (frag && !seen.has(frag.name.value)) cost += walk(frag.selectionSet, parent, depth, multiplier, listSize, new Set([...seen, frag.name.value]));
				continue;
			}
			if (sel.kind === Kind.INLINE_FRAGMENT) {
				cost += walk(sel.selectionSet, parent, depth, multiplier, listSize, seen);
				continue;
			}
			const name = sel.name.value;
			if (name.startsWith("__")) continue;
			const field = parent.getFields()[name];
			if (!field) continue;
			let size = listSize;
			if (depth === 1) {
				rootFields++;
				cost += REST_CALL_COST;
				size = LIST_ESTIMATE;
				for (const arg of sel.arguments ?? []) {
					if (!LIST_SIZE_ARGS.has(arg.name.value)) continue;
					const n = intValue(arg.value, variables);
					if (n !== null) size = Math.max(1, n);
				}
			} else {
				cost += multiplier;
			}
			const named = getNamedType(field.type);
			if (sel.selectionSet && named instanceof GraphQLObjectType) cost += walk(sel.selectionSet, named, depth + 1, isListType(field.type) ? multiplier * size : multiplier, size, seen);
		}
		return cost;
	};

	if (!root) return { depth: 0, complexity: 0, rootFields: 0 };
	const complexity = walk(operation.selectionSet, root, 1, 1, LIST_ESTIMATE, new Set());
	return { depth: depthOf(operation, fragments), complexity, rootFields };
}

/** The depth refusal, or null within the limit. */
export function depthRefusal(depth: number): string | null {
	return depth > MAX_DEPTH ? `the query is ${depth} levels deep; at most ${MAX_DEPTH} are allowed` : null;
}

/** Whether an operation is within the limits; the refusal names the limit and the measured value. */
export function checkLimits(m: Measure): LimitVerdict {
	const deep = depthRefusal(m.depth);
	if (deep) return { ok: false, code: "DEPTH_LIMIT", message: deep, measure: m };
	if (m.rootFields > MAX_ROOT_FIELDS) return { ok: false, code: "COMPLEXITY_LIMIT", message: `the query asks for ${m.rootFields} top-level fields (each one REST call); at most ${MAX_ROOT_FIELDS} are allowed`, measure: m };
	if (m.complexity > MAX_COMPLEXITY) {
		return {
			ok: false,
			code: "COMPLEXITY_LIMIT",
			message: `the query's complexity is ${m.complexity}; at most ${MAX_COMPLEXITY} is allowed (${REST_CALL_COST} per top-level field, 1 per field below it times the size of each list it is in: the root field's limit or k, else ${LIST_ESTIMATE})`,
			measure: m,
		};
	}
	return { ok: true, measure: m };
}
