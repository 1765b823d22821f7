/**
 * A contract schema as plain data: what `describe.ts` reads out of a zod schema at build time and
 * what `check.ts` validates against in the sidecar. JSON-safe (regular expressions are source and
 * flags), so the build can embed it in the sidecar bundle, which then needs no zod at run time.
 *
 * Only the parts of zod the contracts use are described; `describe` refuses anything else, so a
 * contract that starts using a new zod feature fails the build instead of being half-checked.
 */

export type Primitive = string | number | boolean | null;
export type JsonValue = Primitive | JsonValue[] | { [key: string]: JsonValue };

/** A check on a string's or array's length (in code points for strings, as zod counts). */
export interface LengthCheck {
  check: 'min_length' | 'max_length';
  limit: number;
  message?: string;
}

/** A string format: `regex` and the ISO formats test `pattern`; the others have their own test. */
export interface FormatCheck {
  check: 'format';
  format: string;
  pattern?: { source: string; flags: string };
  /** `starts_with` */
  prefix?: string;
  /** `includes` */
  includes?: string;
  message?: string;
}

export interface NumberCheck {
  check: 'int' | 'greater_than' | 'less_than';
  value?: number;
  inclusive?: boolean;
  message?: string;
}

export type StringCheck = LengthCheck | FormatCheck;

interface Base {
  /** A custom message for issues the schema itself raises (its type check). */
  message?: string;
}

export type SchemaNode =
  | (Base & { kind: 'string'; checks: StringCheck[] })
  | (Base & { kind: 'number'; checks: NumberCheck[] })
  | (Base & { kind: 'boolean' })
  | (Base & { kind: 'literal'; values: Primitive[] })
  | (Base & { kind: 'enum'; values: Primitive[] })
  /** `strict`: unknown keys are an error (zod's strictObject); otherwise they are dropped. */
  | (Base & { kind: 'object'; shape: [string, SchemaNode][]; strict: boolean })
  | (Base & { kind: 'array'; element: SchemaNode; checks: LengthCheck[] })
  | (Base & { kind: 'record'; key: SchemaNode; value: SchemaNode })
  | (Base & { kind: 'union'; options: SchemaNode[] })
  /** `tags[i]`: the discriminator values that select `options[i]`. */
  | (Base & { kind: 'discriminated'; discriminator: string; options: SchemaNode[]; tags: Primitive[][] })
  | (Base & { kind: 'optional'; inner: SchemaNode })
  /** The default is returned as is when the input is undefined, not validated (zod's `.default`). */
  | (Base & { kind: 'default'; inner: SchemaNode; value: JsonValue })
  | (Base & { kind: 'pipe'; in: SchemaNode; out: SchemaNode })
  /** A transform from {@link TRANSFORMS}, by name. */
  | (Base & { kind: 'transform'; name: TransformName });

/**
 * The transforms contracts may use. A zod `.transform` holds a function, which cannot be carried
 * as data, so contracts use these by reference and the description names them.
 */
export const TRANSFORMS = {
  lowerCase: (value: string): string => value.toLowerCase(),
} as const;
export type TransformName = keyof typeof TRANSFORMS;
