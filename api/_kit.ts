/**
 * Small builders over TypeBox for the API's schemas: closed objects,
 * nullable and enumerated values, references to `components.schemas`.
 * Each returns a plain JSON Schema object whose TypeScript type is what
 * it accepts (`Static<typeof S>`).
 */
import {
  type Static,
  type TObject,
  type TOptional,
  type TProperties,
  type TSchema,
  type TUnsafe,
  Type,
} from "@sinclair/typebox";

/** An object with exactly these members (`additionalProperties: false`). */
export function closed<T extends TProperties>(
  properties: T,
  description?: string,
): TObject<T> {
  return Type.Object(properties, {
    additionalProperties: false,
    ...(description && { description }),
  });
}

/** A whole number, at least `minimum` when given. */
export const int = (description?: string, minimum?: number) =>
  Type.Integer({
    ...(minimum !== undefined && { minimum }),
    ...(description && { description }),
  });

/** An ISO 8601 time. */
export const time = (description: string) =>
  Type.String({ format: "date-time", description });

/** One of these strings (`enum`). */
export function oneOf<const V extends readonly string[]>(
  values: V,
  description?: string,
): TUnsafe<V[number]> & { enum: V[number][] } {
  return Type.Unsafe<V[number]>({
    type: "string",
    enum: [...values],
    ...(description && { description }),
  }) as TUnsafe<V[number]> & { enum: V[number][] };
}

/** `schema` or null (`type: [t, "null"]`). */
export function nullable<T extends TSchema>(
  schema: T,
  description?: string,
): TUnsafe<Static<T> | null> {
  const plain = JSON.parse(JSON.stringify(schema));
  return Type.Unsafe<Static<T> | null>({
    ...plain,
    type: [plain.type, "null"],
    ...(description && { description }),
  });
}

/** An object of any names, each value of `values`. */
export function recordOf<T extends TSchema>(
  values: T,
  description: string,
): TUnsafe<Record<string, Static<T>>> {
  return Type.Unsafe<Record<string, Static<T>>>({
    type: "object",
    description,
    additionalProperties: values,
  });
}

/** A reference to `components.schemas[name]`, typed as `schema`. */
export function ref<T extends TSchema>(
  name: string,
  _schema: T,
): TUnsafe<Static<T>> {
  return Type.Unsafe<Static<T>>({ $ref: `#/components/schemas/${name}` });
}

/** The members of `o`, each optional, in a closed object. */
export function partialOf<P extends TProperties>(
  o: TObject<P>,
): TObject<{ [K in keyof P]: TOptional<P[K]> }> {
  return closed(
    Object.fromEntries(
      Object.entries(o.properties).map(([k, v]) => [k, Type.Optional(v)]),
    ) as { [K in keyof P]: TOptional<P[K]> },
  );
}

/** The members of `o`, each optional and nullable, in a closed object. */
export function nullablesOf<P extends TProperties>(
  o: TObject<P>,
): TObject<{ [K in keyof P]: TOptional<TUnsafe<Static<P[K]> | null>> }> {
  return closed(
    Object.fromEntries(
      Object.entries(o.properties).map((
        [k, v],
      ) => [k, Type.Optional(nullable(v))]),
    ) as { [K in keyof P]: TOptional<TUnsafe<Static<P[K]> | null>> },
  );
}
