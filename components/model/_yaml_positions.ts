/**
 * Private helpers of parse_package.ts: parsing YAML, then walking the parsed
 * document while recording issues with a path and the 1-based line and column
 * of the node as written (an alias, not what it refers to).
 */
import process from "node:process";
import {
  Composer,
  type CST,
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  Lexer,
  type LineCounter,
  type Node,
  Parser,
  visit,
  type YAMLMap,
  YAMLParseError,
  type YAMLSeq,
} from "yaml";
import type { PackageIssue } from "./job_package.ts";
import { SAFE_FILE_NAME } from "./keys.ts";

/** Ids and file names: what the platform accepts as a path segment or key. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ID_RULE =
  'use 1 to 64 letters, digits, ".", "_" and "-", starting with a letter or digit';
/** File names (schemaref, moduleref), as long as an upload's (SAFE_FILE_NAME). */
const FILE_RULE =
  'use 1 to 128 letters, digits, ".", "_" and "-", starting with a letter or digit';

/** Levels of lists and mappings a document may nest by default. */
export const MAX_YAML_DEPTH = 32;

/** A document nested deeper than allowed; `offset` is where the first too deep collection starts. */
export class YamlTooDeepError extends Error {
  constructor(readonly offset: number, readonly limit: number) {
    super(`Lists and mappings nest deeper than ${limit} levels`);
    this.name = "YamlTooDeepError";
  }
}

const COLLECTIONS = new Set(["block-map", "block-seq", "flow-collection"]);
/** Tokens the parser could not place, after which reading stops. */
const MAX_ERROR_TOKENS = 100;

/**
 * The parser's tokens (the CST), stopped with `YamlTooDeepError` as soon as
 * collections nest deeper than `limit`: composing the document from the CST
 * recurses once per level, so 10,000 `[` would overflow the stack (and take
 * a while to). The parser itself keeps the open collections on its own
 * stack, without recursion. Also cut short after `MAX_ERROR_TOKENS` tokens
 * it could not place (`stop.at` is then where): each becomes an error object,
 * some 30,000 for 50 KB of stray brackets, a third of a second.
 */
function* boundedTokens(
  source: string,
  lc: LineCounter,
  limit: number,
  stop: { at?: number },
): Generator<CST.Token, void> {
  const parser = new Parser(lc.addNewLine);
  lc.addNewLine(0); // as Parser.parse() does
  let errors = 0;
  for (const lexeme of new Lexer().lex(source)) {
    for (const token of parser.next(lexeme)) {
      if (token.type === "error" && ++errors > MAX_ERROR_TOKENS) {
        stop.at = token.offset;
        return;
      }
      yield token;
    }
    // The stack also holds the document and maybe a scalar: count exactly only when it could be too deep.
    if (parser.stack.length > limit + 1) {
      const open = parser.stack.filter((t) => COLLECTIONS.has(t.type));
      if (open.length > limit) {
        throw new YamlTooDeepError(open[limit].offset, limit);
      }
    }
  }
  yield* parser.end();
}

/**
 * Parses one document, refusing with `YamlTooDeepError` one that nests
 * deeper than `maxDepth` (as `parseDocument` does, with the parser's tokens
 * checked on the way to the composer). Duplicate keys are left to the walk
 * (Ctx.fields): the parser's own check (`uniqueKeys`) is quadratic in the
 * size of a mapping, seconds for a 200 KB one. The parser reads
 * `process.env.LOG_TOKENS` for every token, which throws (or prompts) in
 * Deno without env permission and costs a call into the runtime with it
 * (a third of the parse), so unless that variable is set, `process.env` is
 * swapped for an empty object during the (synchronous) parse.
 */
export function parseYaml(
  source: string,
  lc: LineCounter,
  maxDepth = MAX_YAML_DEPTH,
): Document.Parsed {
  const parse = () => {
    const composer = new Composer({ uniqueKeys: false });
    const stop: { at?: number } = {};
    const tokens = boundedTokens(source, lc, maxDepth, stop);
    let doc: Document.Parsed | undefined;
    for (const next of composer.compose(tokens, true, source.length)) {
      if (!doc) doc = next;
      else {
        doc.errors.push(
          new YAMLParseError(
            [next.range[0], next.range[1]],
            "MULTIPLE_DOCS",
            "Source contains multiple documents",
          ),
        );
        break;
      }
    }
    if (stop.at !== undefined) {
      doc!.errors.push(
        new YAMLParseError(
          [stop.at, stop.at],
          "UNEXPECTED_TOKEN",
          "Too many syntax errors: the rest of the package is not read",
        ),
      );
    }
    return doc!; // compose(..., forceDoc = true) always yields one
  };
  const env = { name: "env", variable: "LOG_TOKENS" } as const;
  const original = Object.getOwnPropertyDescriptor(process, "env");
  if (
    (Deno.permissions.querySync(env).state === "granted" &&
      Deno.env.get(env.variable) !== undefined) ||
    !original?.configurable
  ) return parse();
  Object.defineProperty(process, "env", { ...original, value: {} });
  try {
    return parse();
  } finally {
    Object.defineProperty(process, "env", original);
  }
}

/** A value quoted for a message, shortened when long. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

/** `jobs[0].event` + `id` → `jobs[0].event.id` */
export function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** "in jobs[0].event", or "at the top level" for the root. */
export function within(path: string): string {
  return path ? `in ${path}` : "at the top level";
}

export class Ctx {
  readonly issues: PackageIssue[] = [];
  readonly #aliases = new Map<Node, Node | undefined>();

  constructor(
    readonly source: string,
    readonly doc: Document.Parsed,
    readonly lc: LineCounter,
  ) {}

  /**
   * Resolves every alias once, in document order (an alias names the last
   * node anchored with that name before it). Reports unresolved aliases as
   * syntax issues and the alias beyond `max` as a structure issue. Nothing is
   * ever expanded, so alias bombs cost nothing beyond the count.
   */
  indexAliases(max: number): void {
    const anchors = new Map<string, Node>();
    let count = 0;
    visit(this.doc, {
      Node: (_key, node) => {
        if (isAlias(node)) {
          const target = anchors.get(node.source);
          this.#aliases.set(node, target);
          if (!target) {
            this.add(
              "syntax",
              "",
              node,
              `Unknown alias "*${node.source}": no anchor of that name before it`,
            );
          }
          if (++count === max + 1) {
            this.add(
              "structure",
              "",
              node,
              `Too many aliases: at most ${max} are allowed`,
            );
          }
        } else if (node.anchor) anchors.set(node.anchor, node);
      },
    });
  }

  /** The node itself, or what an alias refers to (null when unresolved). */
  deref(node: unknown): Node | null {
    if (isAlias(node)) return this.#aliases.get(node) ?? null;
    return isScalar(node) || isMap(node) || isSeq(node) ? node : null;
  }

  pos(at: Node | number | null | undefined): { line: number; col: number } {
    const offset = typeof at === "number" ? at : at?.range?.[0] ?? 0;
    return this.lc.linePos(offset);
  }

  add(
    kind: PackageIssue["kind"],
    path: string,
    at: Node | number | null | undefined,
    message: string,
  ): void {
    this.issues.push({ kind, path, message, ...this.pos(at) });
  }

  /** "a list", "a string", "an empty value", ... */
  describe(node: Node | null): string {
    if (isMap(node)) return "a mapping";
    if (isSeq(node)) return "a list";
    const v = isScalar(node) ? node.value : null;
    if (v === null || v === undefined) return "an empty value";
    if (typeof v === "string") return "a string";
    if (typeof v === "number") {
      return Number.isInteger(v) ? "an integer" : "a number";
    }
    if (typeof v === "boolean") return "a boolean";
    if (v instanceof Uint8Array) return "binary data";
    if (v instanceof Date) return "a date";
    return "a value";
  }

  wrongType(
    path: string,
    node: Node | null,
    at: Node | number,
    expected: string,
  ): void {
    const got = this.describe(node);
    this.add(
      "structure",
      path,
      at,
      `Expected ${expected} for "${path}", got ${got}`,
    );
  }

  /**
   * Checks that `node` (written at `at`) is a mapping with exactly the
   * allowed keys, and returns its values.
   */
  fields(
    node: Node | null,
    path: string,
    at: Node | number,
    required: readonly string[],
    optional: readonly string[],
  ): Fields | undefined {
    if (!isMap(node)) {
      if (path) this.wrongType(path, node, at, "a mapping");
      else {
        const got = node ? this.describe(node) : "nothing";
        this.add(
          "structure",
          path,
          at,
          `Expected a mapping at the top level, got ${got}`,
        );
      }
      return undefined;
    }
    const f = new Fields(this, node, path);
    for (const pair of node.items) {
      const keyNode = this.deref(pair.key);
      const key = isScalar(keyNode)
        ? String(keyNode.value)
        : this.text(pair.key);
      const keyAt = (pair.key as Node | null) ?? node;
      if (!required.includes(key) && !optional.includes(key)) {
        this.add(
          "structure",
          join(path, key),
          keyAt,
          `Unknown key ${quote(key)} ${within(path)}`,
        );
      } else if (f.has(key)) {
        this.add(
          "structure",
          join(path, key),
          keyAt,
          `Duplicate key ${quote(key)} ${within(path)}`,
        );
      } else f.set(key, keyAt, pair.value as Node | null);
    }
    for (const key of required) {
      if (!f.has(key)) {
        this.add(
          "structure",
          join(path, key),
          node,
          `Missing required key "${key}" ${within(path)}`,
        );
      }
    }
    return f;
  }

  /** The source text of a node, for messages. */
  text(node: unknown): string {
    const range = (node as Node | null)?.range;
    return range ? this.source.slice(range[0], range[1]).trim() : "";
  }
}

/** The values of one mapping, by key, with typed getters that report issues. */
export class Fields {
  readonly #values = new Map<string, { key: Node; value: Node | null }>();

  constructor(
    readonly ctx: Ctx,
    readonly node: YAMLMap,
    readonly path: string,
  ) {}

  has(key: string): boolean {
    return this.#values.has(key);
  }

  set(key: string, keyNode: Node, value: Node | null): void {
    this.#values.set(key, { key: keyNode, value });
  }

  /** The value (alias resolved), null when empty, undefined when absent. */
  get(key: string): Node | null | undefined {
    const entry = this.#values.get(key);
    return entry ? this.ctx.deref(entry.value) : undefined;
  }

  /** Where the value of `key` is (its key when the value is empty). */
  at(key: string): Node {
    const entry = this.#values.get(key);
    return entry?.value ?? entry?.key ?? this.node;
  }

  /**
   * An id or file name: a string or an integer, matching ID_RE
   * (SAFE_FILE_NAME for a file name, which an upload allows up to 128
   * characters).
   */
  id(key: string, what: string, file = false): string | undefined {
    const node = this.get(key);
    if (node === undefined) return undefined;
    const path = join(this.path, key);
    let value: string | undefined;
    if (isScalar(node) && typeof node.value === "string") value = node.value;
    else if (isScalar(node) && Number.isSafeInteger(node.value)) {
      // Keep integers as written when they are plain digits ("007").
      const text = this.ctx.text(node);
      value = node.type === "PLAIN" && /^[0-9]+$/.test(text)
        ? text
        : String(node.value);
    } else {
      this.ctx.wrongType(path, node, this.at(key), "a string"); // or an integer
      return undefined;
    }
    if ((file ? SAFE_FILE_NAME : ID_RE).test(value)) return value;
    this.ctx.add(
      "structure",
      path,
      this.at(key),
      `Invalid ${what} ${quote(value)}: ${file ? FILE_RULE : ID_RULE}`,
    );
    return undefined;
  }

  /** An optional string; empty values count as absent. */
  str(key: string): string | undefined {
    const node = this.get(key);
    if (node === undefined || (isScalar(node) && node.value === null)) {
      return undefined;
    }
    if (isScalar(node) && typeof node.value === "string") return node.value;
    this.ctx.wrongType(join(this.path, key), node, this.at(key), "a string");
    return undefined;
  }

  /** An optional integer that must be 0 when present (datatype, type). */
  zero(key: string, what: string): number | undefined {
    const node = this.get(key);
    if (node === undefined || (isScalar(node) && node.value === null)) return 0;
    const path = join(this.path, key);
    if (!isScalar(node) || !Number.isInteger(node.value)) {
      this.ctx.wrongType(path, node, this.at(key), "an integer");
      return undefined;
    }
    if (node.value === 0) return 0;
    this.ctx.add(
      "structure",
      path,
      this.at(key),
      `Unsupported ${key} ${node.value}: only 0 (${what}) is supported`,
    );
    return undefined;
  }

  /**
   * An optional whole number within `[min, max]`: undefined when absent,
   * null (with an issue) when it is not one.
   */
  int(key: string, min: number, max: number): number | undefined | null {
    const node = this.get(key);
    if (node === undefined || (isScalar(node) && node.value === null)) {
      return undefined;
    }
    const path = join(this.path, key);
    if (!isScalar(node) || !Number.isSafeInteger(node.value)) {
      this.ctx.wrongType(path, node, this.at(key), "a whole number");
      return null;
    }
    const value = node.value as number;
    if (value >= min && value <= max) return value;
    this.ctx.add(
      "structure",
      path,
      this.at(key),
      `${key} ${value} is out of range: use ${min} to ${max}`,
    );
    return null;
  }

  /** A required non-empty list. */
  list(key: string): YAMLSeq | undefined {
    const node = this.get(key);
    if (node === undefined) return undefined;
    const path = join(this.path, key);
    if (!isSeq(node)) this.ctx.wrongType(path, node, this.at(key), "a list");
    else if (node.items.length === 0) {
      this.ctx.add(
        "structure",
        path,
        this.at(key),
        `Expected at least one entry in "${path}"`,
      );
    } else return node;
    return undefined;
  }
}
