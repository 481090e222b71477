/**
 * The GraphQL schema, generated from the OpenAPI document of the REST routes it answers from
 * (rest.ts): one `Query` field per GET operation, named by its `operationId`, whose arguments are the
 * operation's path and query parameters and whose type is its 200 JSON answer. The document is itself
 * generated from the zod schemas that validate and type those routes, so a GraphQL type mirrors the
 * REST answer field for field and cannot drift from it.
 *
 * JSON Schema → GraphQL:
 * - a named component (`KpiPoint`) → an object type of that name; an inline object → a type named
 *   after its place (`ListCustomersCustomers`); `allOf` parts are merged;
 * - a property is non-null when it is required and its type has no `null`;
 * - `integer` → `SafeInt` (a whole number up to ±2^53: epoch ms and minor units exceed GraphQL's 32-bit
 *   `Int`), `number` → `Float`, `boolean` → `Boolean`, `string` → `String`;
 * - a string enum whose values are all GraphQL names → an enum type; otherwise `String` (`<=`);
 * - anything GraphQL cannot type (a `oneOf` of shapes, a free-form map, `{}`) → `JSON`, the value as is.
 * Arguments: a query string of digits (`limit`, `k`) → `Int`, of a decimal (`min_prob`) → `Float`, the
 * rest as their JSON types; `format` (CSV) is left out: GraphQL answers JSON.
 */
import {
	GraphQLBoolean,
	GraphQLEnumType,
	GraphQLError,
	GraphQLFloat,
	GraphQLInt,
	GraphQLList,
	GraphQLNonNull,
	GraphQLObjectType,
	GraphQLScalarType,
	GraphQLSchema,
	GraphQLString,
	Kind,
	type GraphQLFieldConfig,
	type GraphQLFieldConfigArgumentMap,
	type GraphQLFieldConfigMap,
	type GraphQLInputType,
	type GraphQLNullableOutputType,
	type ValueNode,
} from "graphql";

/** The slice of JSON Schema the OpenAPI 3.1 generator emits. */
export interface JsonSchema {
	$ref?: string;
	type?: string | string[];
	enum?: unknown[];
	properties?: Record<string, JsonSchema>;
	required?: string[];
	additionalProperties?: boolean | JsonSchema;
	items?: JsonSchema;
	allOf?: JsonSchema[];
	oneOf?: JsonSchema[];
	anyOf?: JsonSchema[];
	pattern?: string;
	description?: string;
}

interface Parameter {
	name: string;
	in: string;
	required?: boolean;
	description?: string;
	schema: JsonSchema;
}

interface Operation {
	operationId: string;
	summary?: string;
	description?: string;
	tags?: string[];
	parameters?: Parameter[];
	responses: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>;
}

/** What generating the schema needs from an OpenAPI document. */
export interface OpenApiLike {
	paths?: object;
	components?: { schemas?: object };
}

/** How one Query field maps onto its REST operation. */
export interface RestOperation {
	field: string;
	/** The path template, e.g. `/api/v1/funnels/{id}/report`. */
	path: string;
	pathParams: string[];
	queryParams: string[];
	tag: string;
}

/** The resolver of every Query field: the REST answer's body for the field's operation and arguments. */
export type CallRest = (op: RestOperation, args: Record<string, unknown>, context: unknown) => Promise<unknown>;

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;
const INT_PATTERN = "^\\d{1,15}$";
/** A query pattern that only admits decimals (`^(0(\.\d+)?|1(\.0+)?)$`, `^\d+(\.\d+)?$`): a Float argument. */
const DECIMAL_PATTERN = /^\^[()0-9\\d.+?|{},]*\$$/;

/** Whole numbers up to ±2^53, serialised as JSON numbers: UTC epoch ms, minor units, counts. */
export const SafeInt = new GraphQLScalarType({
	name: "SafeInt",
	description: "A whole number from −(2^53 − 1) to 2^53 − 1 (JSON number): UTC epoch ms, money in minor units, counts. GraphQL's Int is 32-bit, too small for epoch ms.",
	serialize(value) {
		if (typeof value === "number" && Number.isSafeInteger(value)) return value;
		throw new GraphQLError(`SafeInt cannot represent ${String(value)}`);
	},
	parseValue(value) {
		if (typeof value === "number" && Number.isSafeInteger(value)) return value;
		throw new GraphQLError(`SafeInt cannot represent ${JSON.stringify(value)}: a whole number is needed`);
	},
	parseLiteral(node) {
		if (node.kind === Kind.INT) {
			const n = Number(node.value);
			if (Number.isSafeInteger(n)) return n;
		}
		throw new GraphQLError("SafeInt needs a whole number literal up to 2^53 − 1");
	},
});

function literalValue(node: ValueNode): unknown {
	switch (node.kind) {
		case Kind.INT:
		case Kind.FLOAT:
			return Number(node.value);
		case Kind.STRING:
		case Kind.ENUM:
			return node.value;
		case Kind.BOOLEAN:
			return node.value;
		case Kind.NULL:
			return null;
		case Kind.LIST:
			return node.values.map(literalValue);
		case Kind.OBJECT:
			return Object.fromEntries(node.fields.map((f) => [f.name.value, literalValue(f.value)]));
		default:
			throw new GraphQLError("JSON literals cannot contain variables");
	}
}

/** A value GraphQL cannot type (a union of shapes, a free-form map), passed through as JSON. */
export const JsonScalar = new GraphQLScalarType({
	name: "JSON",
	description: "Any JSON value, as the REST answer has it: used where the REST type is a union of shapes (alert channels) or a free-form map (model parameters, backtest errors).",
	serialize: (value) => value,
	parseValue: (value) => value,
	parseLiteral: literalValue,
});

function pascal(s: string): string {
	return s
		.split(/[^A-Za-z0-9]+/)
		.filter(Boolean)
		.map((p) => p[0]!.toUpperCase() + p.slice(1))
		.join("");
}

function typesOf(s: JsonSchema): string[] {
	return s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
}

/** Builds the output types of one document, naming each once. */
class TypeBuilder {
	private readonly named = new Map<string, GraphQLNullableOutputType>();
	private readonly used = new Set<string>(["Query", "SafeInt", "JSON", "String", "Int", "Float", "Boolean", "ID"]);

	constructor(private readonly components: Record<string, JsonSchema>) {}

	/** A fresh type name based on `wanted` (a numeric suffix on a clash). */
	uniqueName(wanted: string): string {
		const base = NAME.test(wanted) ? wanted : `T${pascal(wanted)}`;
		let name = base;
		for (let i = 2; this.used.has(name); i++) name = `${base}${i}`;
		this.used.add(name);
		return name;
	}

	private deref(s: JsonSchema): { schema: JsonSchema; name?: string } {
		if (!s.$ref) return { schema: s };
		const name = s.$ref.replace("#/components/schemas/", "");
		const target = this.components[name];
		if (!target) throw new Error(`unresolved $ref ${s.$ref}`);
		return { schema: target, name };
	}

	/** `allOf` parts merged into one object schema (refs resolved). */
	private merged(s: JsonSchema): JsonSchema {
		if (!s.allOf) return s;
		const out: JsonSchema = { type: "object", properties: {}, required: [] };
		for (const part of s.allOf) {
			const p = this.merged(this.deref(part).schema);
			Object.assign(out.properties!, p.properties ?? {});
			out.required!.push(...(p.required ?? []));
		}
		return out;
	}

	/** The nullable GraphQL type of a schema (wrap with NonNull where required). */
	output(input: JsonSchema, place: string): { type: GraphQLNullableOutputType; nullable: boolean } {
		const { schema: raw, name } = this.deref(input);
		const s = this.merged(raw);
		const variants = s.oneOf ?? s.anyOf;
		if (variants) {
			const nonNull = variants.filter((v) => !typesOf(v).includes("null") || typesOf(v).length > 1);
			if (nonNull.length === 1 && nonNull.length < variants.length) return { type: this.output(nonNull[0]!, place).type, nullable: true };
			return { type: JsonScalar, nullable: true };
		}
		const types = typesOf(s);
		const nullable = types.includes("null") || (s.enum?.includes(null) ?? false);
		const core = types.filter((t) => t !== "null");
		if (core.length !== 1) return { type: JsonScalar, nullable: true };
		const key = name ?? place;
		switch (core[0]) {
			case "string": {
				const values = (s.enum ?? []).filter((v): v is string => typeof v === "string");
				if (values.length === 0 || !values.every((v) => NAME.test(v) && v !== "true" && v !== "false" && v !== "null")) return { type: GraphQLString, nullable };
				return { type: this.enumType(key, values, s.description), nullable };
			}
			case "integer":
				return { type: SafeInt, nullable };
			case "number":
				return { type: GraphQLFloat, nullable };
			case "boolean":
				return { type: GraphQLBoolean, nullable };
			case "array": {
				if (!s.items) return { type: JsonScalar, nullable };
				const item = this.output(s.items, place);
				return { type: new GraphQLList(item.nullable ? item.type : new GraphQLNonNull(item.type)), nullable };
			}
			case "object": {
				const props = s.properties ?? {};
				const free = s.additionalProperties !== undefined && s.additionalProperties !== false;
				if (Object.keys(props).length === 0 || free || !Object.keys(props).every((k) => NAME.test(k) && !k.startsWith("__"))) return { type: JsonScalar, nullable };
				return { type: this.objectType(key, s), nullable };
			}
			default:
				return { type: JsonScalar, nullable: true };
		}
	}

	private enumType(key: string, values: string[], description?: string): GraphQLEnumType {
		const existing = this.named.get(`enum:${key}`);
		if (existing instanceof GraphQLEnumType) return existing;
		const t = new GraphQLEnumType({ name: this.uniqueName(pascal(key)), description, values: Object.fromEntries(values.map((v) => [v, { value: v }])) });
		this.named.set(`enum:${key}`, t);
		return t;
	}

	private objectType(key: string, s: JsonSchema): GraphQLObjectType {
		const existing = this.named.get(`object:${key}`);
		if (existing instanceof GraphQLObjectType) return existing;
		const required = new Set(s.required ?? []);
		const t: GraphQLObjectType = new GraphQLObjectType({
			name: this.uniqueName(pascal(key)),
			description: s.description,
			// A thunk: a type may refer to itself or to one still being built.
			fields: () => {
				const fields: GraphQLFieldConfigMap<unknown, unknown> = {};
				for (const [prop, ps] of Object.entries(s.properties ?? {})) {
					const { type, nullable } = this.output(ps, `${key}_${prop}`);
					fields[prop] = { type: required.has(prop) && !nullable ? new GraphQLNonNull(type) : type, description: ps.description };
				}
				return fields;
			},
		});
		this.named.set(`object:${key}`, t);
		return t;
	}

	/** The input type of a path or query parameter. */
	argument(p: Parameter, field: string): GraphQLInputType {
		const s = p.schema;
		const core = typesOf(s).filter((t) => t !== "null");
		let type: GraphQLInputType = GraphQLString;
		if (core[0] === "integer") type = GraphQLInt;
		else if (core[0] === "number") type = GraphQLFloat;
		else if (core[0] === "boolean") type = GraphQLBoolean;
		else if (s.pattern === INT_PATTERN) type = GraphQLInt;
		else if (s.pattern !== undefined && s.pattern.includes("\\.") && DECIMAL_PATTERN.test(s.pattern)) type = GraphQLFloat;
		else if (s.enum) {
			const t = this.output({ ...s, type: "string" }, `${field}_${p.name}`).type;
			if (t instanceof GraphQLEnumType) type = t;
		}
		return p.required || p.in === "path" ? new GraphQLNonNull(type) : type;
	}
}

/** The schema, and for each Query field the REST operation that answers it. */
export interface BuiltSchema {
	schema: GraphQLSchema;
	operations: Map<string, RestOperation>;
}

/** The Query type of `doc`'s GET operations; each field resolves through `callRest`. */
export function buildSchema(doc: OpenApiLike, callRest: CallRest): BuiltSchema {
	// The generator's output is JSON Schema by construction (zod-to-openapi); these are its shapes.
	const builder = new TypeBuilder((doc.components?.schemas ?? {}) as Record<string, JsonSchema>);
	const fields: GraphQLFieldConfigMap<unknown, unknown> = {};
	const operations = new Map<string, RestOperation>();
	for (const [path, methods] of Object.entries((doc.paths ?? {}) as Record<string, Record<string, unknown>>)) {
		const op = methods.get as Operation | undefined;
		const schema = op?.responses["200"]?.content?.["application/json"]?.schema;
		if (!op || !schema || !NAME.test(op.operationId)) continue;
		const params = (op.parameters ?? []).filter((p) => (p.in === "query" || p.in === "path") && p.name !== "format" && NAME.test(p.name));
		const args: GraphQLFieldConfigArgumentMap = {};
		for (const p of params) args[p.name] = { type: builder.argument(p, op.operationId), description: p.description ?? p.schema.description };
		const rest: RestOperation = {
			field: op.operationId,
			path,
			pathParams: params.filter((p) => p.in === "path").map((p) => p.name),
			queryParams: params.filter((p) => p.in === "query").map((p) => p.name),
			tag: op.tags?.[0] ?? "",
		};
		operations.set(op.operationId, rest);
		const config: GraphQLFieldConfig<unknown, unknown> = {
			// Nullable: a refused or failed field is null with its error, the other fields still answer.
			type: builder.output(schema, op.operationId).type,
			description: `${op.summary ?? ""} — \`GET ${path}\`${op.description ? `. ${op.description}` : ""}`,
			args,
			resolve: (_source, fieldArgs, context) => callRest(rest, fieldArgs as Record<string, unknown>, context),
		};
		fields[op.operationId] = config;
	}
	const query = new GraphQLObjectType({
		name: "Query",
		description: "Each field is one REST GET operation (its operationId), answered by that route with the caller's own key or session.",
		fields,
	});
	return { schema: new GraphQLSchema({ query }), operations };
}
