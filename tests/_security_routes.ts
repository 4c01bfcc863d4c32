/**
 * The route table of the security suite: for every route of the platform
 * but the public ones, who may use it and how to make a valid request of it
 * (its body, its documented body limits, how it parses a body, and odd
 * values of its queries, headers and body fields). Path parameters come
 * from the tenant fixtures (tests/_security_world.ts).
 */
import type { Probe } from "./_probe.ts";
import {
  type BodyKind,
  ODD_STRINGS,
  pad,
  padWasm,
  q,
} from "./_security_inputs.ts";
import { packageYaml, type TenantFixture } from "./_security_world.ts";

/** Public by design: never need a token (health, version, the API description). */
export const PUBLIC_ROUTES = [
  "GET /",
  "GET /healthz",
  "GET /meta",
  "GET /api/v1/openapi.json",
  "GET /docs",
];

/**
 * Who may use a route: `tenant`, the admin and the tenant named in the
 * path; `admin`, the admin only; `self`, any principal, about itself;
 * `deploy`, any principal, for the tenant its package names.
 */
export type Access = "tenant" | "admin" | "self" | "deploy";

export interface Limit {
  what: string;
  /** The documented limit in bytes; the probe sends one byte more. */
  bytes: number;
  /** A valid body padded to exactly `size` bytes: only its size is wrong. */
  body: (t: TenantFixture, size: number) => Uint8Array;
  /** Path parameters that differ from the tenant's usual ones. */
  params?: Record<string, string>;
}

/** An odd value in a query, a header or a body field. */
export interface FieldCase {
  label: string;
  query?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Default [400]. */
  expect?: number[];
}

export interface RouteSpec {
  access: Access;
  /** A valid body of tenant `t` (the route refuses it for lack of rights). */
  body?: (t: TenantFixture) => string | Uint8Array;
  limits?: Limit[];
  parses?: BodyKind;
  fields?: (t: TenantFixture) => FieldCase[];
}

const idsBody = (t: TenantFixture) => q({ ids: t.deadIds });

/** Odd values of the "ids" list of a replay or purge. */
const idsFields = (): FieldCase[] => [
  ...ODD_STRINGS.map((s) => ({
    label: `ids [${q(s)}]`,
    body: q({ ids: [s] }),
  })),
  { label: "ids not a list", body: '{"ids":"x"}' },
  { label: "ids of numbers", body: '{"ids":[1]}' },
  { label: "ids of null", body: '{"ids":[null]}' },
  { label: "ids empty", body: '{"ids":[]}' },
  {
    label: "1001 ids",
    body: q({ ids: Array.from({ length: 1001 }, (_, i) => `id${i}`) }),
  },
  { label: "unknown member", body: '{"ids":["x"],"all":true}' },
];

const limitQueries = (name: string): FieldCase[] =>
  ["0", "1001", "-1", "1.5", "1e3", "abc", "", "%00"].map((v) => ({
    label: `${name}=${v}`,
    query: `${name}=${v}`,
  }));

const filterQueries = (): FieldCase[] => [
  ...["status", "event", "package"].flatMap((name) =>
    ODD_STRINGS.filter((s) => s.trim() !== "").map((s) => ({
      label: `${name}=${q(s)}`,
      query: `${name}=${encodeURIComponent(s)}`,
    }))
  ),
];

/** A tenant named in the query: ignored, the path's tenant is the one listed. */
const tenantInQuery = (): FieldCase[] => [{
  label: "another tenant in the query",
  query: "tenant=victim&tenantId=victim&prefix=..%2Fvictim",
  expect: [200],
}];

/** A package with one odd name; the tenant's files otherwise. */
const packageFields = (t: TenantFixture): FieldCase[] => [
  ...([
    "tenant",
    "id",
    "queue",
    "event",
    "runtime",
    "module",
    "schema",
  ] as const)
    .flatMap((field) =>
      ODD_STRINGS.map((s) => ({
        label: `package ${field} ${q(s)}`,
        body: packageYaml({ ...t.names, [field]: s }),
        expect: field === "tenant" ? [400, 403, 422] : [400, 422],
      }))
    ),
  // Another tenant's files are not this tenant's: unresolved, never used.
  ...(t.id === "victim" ? [] : [
    {
      label: "package using the victim's module",
      body: packageYaml({ ...t.names, module: "victim-trap.wasm" }),
      expect: [422],
    },
    {
      label: "package using the victim's schema",
      body: packageYaml({ ...t.names, schema: "victim-any.json" }),
      expect: [422],
    },
  ]),
];

/** Every route but the public ones: how to make a valid request of it. */
export const ROUTES: Record<string, RouteSpec> = {
  "GET /api/v1/whoami": { access: "self" },
  "GET /metrics": { access: "admin" },
  "POST /api/v1/tenants": {
    access: "admin",
    body: () => '{"id":"newcomer"}',
    limits: [{
      what: "tenant body",
      bytes: 4096,
      body: (_, n) => pad('{"id":"newcomer"}', n),
    }],
    parses: "json",
    fields: () => [
      ...ODD_STRINGS.map((s) => ({ label: `id ${q(s)}`, body: q({ id: s }) })),
      { label: "id a number", body: '{"id":1}' },
      { label: "id null", body: '{"id":null}' },
    ],
  },
  "GET /api/v1/tenants": { access: "self" },
  "GET /api/v1/tenants/:tenant": { access: "tenant" },
  "DELETE /api/v1/tenants/:tenant": { access: "admin" },
  "PATCH /api/v1/tenants/:tenant": {
    access: "admin",
    body: () => '{"retention":{"days":30}}',
    limits: [{
      what: "tenant settings",
      bytes: 4096,
      body: (_, n) => pad('{"retention":{"days":30}}', n),
    }],
    parses: "json",
    fields: () => [
      ...ODD_STRINGS.map((s) => ({
        label: `days ${q(s)}`,
        body: q({ retention: { days: s } }),
      })),
      { label: "days negative", body: '{"retention":{"days":-1}}' },
      { label: "days 2^53", body: '{"retention":{"days":9007199254740992}}' },
      { label: "versions 0", body: '{"retention":{"versions":0}}' },
      { label: "bytes 1.5", body: '{"quotas":{"bytes":1.5}}' },
      { label: "unknown section", body: '{"quota":{"files":1}}' },
      { label: "inherited member", body: '{"quotas":{"constructor":1}}' },
      { label: "section a list", body: '{"quotas":[1]}' },
    ],
  },
  "GET /api/v1/retention": { access: "admin" },
  "POST /api/v1/tenants/:tenant/token": { access: "tenant" },
  "GET /api/v1/tenants/:tenant/webhook-secret": { access: "tenant" },
  "POST /api/v1/tenants/:tenant/webhook-secret": { access: "tenant" },
  "POST /api/v1/packages": {
    access: "deploy",
    body: (t) => packageYaml(t.names),
    limits: [{
      what: "package source",
      bytes: 60 * 1024,
      body: (t, n) => pad(packageYaml(t.names) + "#", n, "#"),
    }],
    parses: "yaml",
    fields: (t) => [
      ...packageFields(t),
      ...["yes", "2", "%00", "true%00"].map((v) => ({
        label: `dryRun=${v}`,
        query: `dryRun=${v}`,
        body: packageYaml(t.names),
      })),
      {
        label: "file= without a dry run",
        query: `file=greet.wasm:wasm:${"0".repeat(64)}`,
        body: packageYaml(t.names),
      },
      ...ODD_STRINGS.map((s) => ({
        label: `dry run file=${q(s)}`,
        query: `dryRun=true&file=${
          encodeURIComponent(`${s}:wasm:${"0".repeat(64)}`)
        }`,
        body: packageYaml(t.names),
      })),
    ],
  },
  "GET /api/v1/tenants/:tenant/packages": {
    access: "tenant",
    fields: tenantInQuery,
  },
  "GET /api/v1/tenants/:tenant/packages/:id": { access: "tenant" },
  "GET /api/v1/tenants/:tenant/packages/:id/versions": { access: "tenant" },
  "POST /api/v1/tenants/:tenant/packages/:id/rollback": {
    access: "tenant",
    body: () => '{"version":1}',
    limits: [{
      what: "rollback body",
      bytes: 4096,
      body: (_, n) => pad('{"version":1}', n),
    }],
    parses: "json",
    fields: () => [
      ...[
        '"1"',
        "-1",
        "0",
        "1.5",
        "1e999",
        "null",
        "true",
        "[1]",
        '{"$gt":0}',
        '"../1"',
        '"\\u0000"',
      ].map((v) => ({ label: `version ${v}`, body: `{"version":${v}}` })),
      // 2^53 + 1 parses as 2^53, a whole number: no such version.
      {
        label: "version 2^53 + 1",
        body: '{"version":9007199254740993}',
        expect: [400, 404],
      },
      {
        label: "version never made",
        body: '{"version":999999}',
        expect: [404],
      },
    ],
  },
  "DELETE /api/v1/tenants/:tenant/packages/:id": { access: "tenant" },
  "DELETE /api/v1/tenants/:tenant/files/:name": { access: "tenant" },
  "GET /api/v1/tenants/:tenant/queues": {
    access: "tenant",
    fields: tenantInQuery,
  },
  "GET /api/v1/tenants/:tenant/queues/:queue": { access: "tenant" },
  "GET /api/v1/tenants/:tenant/queues/:queue/dead": {
    access: "tenant",
    fields: () => [
      ...limitQueries("limit"),
      ...["!!!", "%00", "a".repeat(3000), "..%2F..", "%2F%2F%2F"].map((v) => ({
        label: `cursor=${v.slice(0, 20)}`,
        query: `cursor=${v}`,
      })),
      // Well formed but made up: answered or refused, never another queue's letters.
      ...[
        "AAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "_-_-",
        "dmljdGlt",
      ]
        .map((v) => ({
          label: `cursor=${v}`,
          query: `cursor=${v}`,
          expect: [200, 400],
        })),
    ],
  },
  "GET /api/v1/tenants/:tenant/queues/:queue/delayed": {
    access: "tenant",
    fields: () => [
      ...limitQueries("limit"),
      ...["!!!", "%00", "a".repeat(3000), "..%2F.."].map((v) => ({
        label: `cursor=${v.slice(0, 20)}`,
        query: `cursor=${v}`,
      })),
      // Well formed but made up: answered or refused, never another queue's items.
      ...["AAAA", "_-_-", "dmljdGlt"].map((v) => ({
        label: `cursor=${v}`,
        query: `cursor=${v}`,
        expect: [200, 400],
      })),
    ],
  },
  "GET /api/v1/tenants/:tenant/queues/:queue/limits": { access: "tenant" },
  "GET /api/v1/tenants/:tenant/schedules": { access: "tenant" },
  // The path's :id is an event id or an execution id here (19 lowercase
  // letters and digits): the package id of the fixtures is a 400, odd ones
  // too, a made-up one a 404.
  "DELETE /api/v1/tenants/:tenant/events/:event/items/:id": {
    access: "tenant",
  },
  "POST /api/v1/tenants/:tenant/executions/:id/rerun": { access: "tenant" },
  "POST /api/v1/tenants/:tenant/queues/:queue/dead/replay": {
    access: "tenant",
    body: idsBody,
    limits: [{
      what: "replay body",
      bytes: 64 * 1024,
      body: (t, n) => pad(idsBody(t), n),
    }],
    parses: "json-or-none",
    fields: idsFields,
  },
  "DELETE /api/v1/tenants/:tenant/queues/:queue/dead": {
    access: "tenant",
    body: idsBody,
    limits: [{
      what: "purge body",
      bytes: 64 * 1024,
      body: (t, n) => pad(idsBody(t), n),
    }],
    parses: "json-or-none",
    fields: (t) => [
      ...idsFields(),
      ...ODD_STRINGS.map((s) => ({
        label: `?id=${q(s)}`,
        query: `id=${encodeURIComponent(s)}`,
      })),
      {
        label: "ids in the body and the query",
        query: `id=${t.deadIds[0]}`,
        body: idsBody(t),
      },
    ],
  },
  "PUT /api/v1/tenants/:tenant/files/:name": {
    access: "tenant",
    body: (t) => t.file,
    limits: [
      {
        what: "module",
        bytes: 16 * 1024 * 1024,
        body: (t, n) => padWasm(t.file, n),
      },
      {
        what: "schema",
        bytes: 256 * 1024,
        body: (_, n) => pad('{"type":"object"}', n),
        params: { name: "victim-any.json" },
      },
    ],
    parses: "file",
    fields: (t) =>
      ["js", "WASM", "", "wasm%00", "schema,wasm"].map((v) => ({
        label: `kind=${v}`,
        query: `kind=${v}`,
        body: t.file,
      })),
  },
  "GET /api/v1/tenants/:tenant/files": {
    access: "tenant",
    fields: tenantInQuery,
  },
  "GET /api/v1/tenants/:tenant/files/:name": { access: "tenant" },
  "POST /events/:tenant/:event": {
    access: "tenant",
    body: () => '{"data":[{"name":"Eve"}]}',
    limits: [
      {
        what: "event body",
        bytes: 1024 * 1024,
        body: (_, n) => pad('{"data":[{"name":"Eve"}]}', n),
      },
    ],
    parses: "event",
    fields: () => [
      ...["a b", "é", "x".repeat(256), "", "\t"].map((v) => ({
        label: `Idempotency-Key ${q(v.slice(0, 10))}`,
        headers: { "idempotency-key": v },
        body: '{"data":[{"name":"Eve"}]}',
      })),
      {
        label: "1001 items",
        body: q({ data: Array.from({ length: 1001 }, () => ({ name: "E" })) }),
        expect: [413],
      },
      { label: "an item against the schema", body: '{"data":[{"nom":"Eve"}]}' },
      // A delay that is not one, or out of bounds: 400, nothing queued.
      ...[
        "delay=NaN",
        "delay=-1",
        "delay=1e9",
        "delay=99999999999999d",
        "delay=31d",
        "runAt=1970-01-01T00:00:00Z",
        "runAt=9999-12-31T23:59:59Z",
        "runAt=NaN",
        "runAt=2030-02-30T00:00:00Z",
        "delay=1&runAt=2030-01-01T00:00:00Z",
        "delay=1&delay=2",
      ].map((query) => ({
        label: query,
        query,
        body: '{"data":[{"name":"Eve"}]}',
      })),
      { label: "one bad item of two", body: '{"data":[{"name":"Eve"},{}]}' },
    ],
  },
  "GET /api/v1/tenants/:tenant/executions": {
    access: "tenant",
    fields: () => [
      ...tenantInQuery(),
      ...limitQueries("limit"),
      ...filterQueries(),
      ...["x", "%00", "0".repeat(20), "..%2F..", "Z".repeat(19)].map((v) => ({
        label: `cursor=${v}`,
        query: `cursor=${v}`,
      })),
    ],
  },
  "GET /api/v1/tenants/:tenant/executions/stream": {
    access: "tenant",
    fields: filterQueries,
  },
};

/** The path of `route` with its parameters filled in from `params`. */
export function fill(route: string, params: Record<string, string>): string {
  return route.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    if (!(name in params)) {
      throw new Error(
        `Route ${route} has parameter ":${name}" that the security test does not know: add it to the tenant fixtures`,
      );
    }
    return params[name];
  });
}

export const split = (route: string) => {
  const i = route.indexOf(" ");
  return { method: route.slice(0, i), path: route.slice(i + 1) };
};
export const paramsOf = (path: string) =>
  [...path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]);

/** A probe of `route` for tenant `t`: its valid body, the given headers. */
export function probe(
  route: string,
  t: TenantFixture,
  headers: Record<string, string> | undefined,
  expect: number[],
  as: Probe["as"],
  params: Record<string, string> = t.params,
): Probe {
  const { method, path } = split(route);
  const body = ROUTES[route].body?.(t);
  return { method, path: fill(path, params), headers, body, expect, as };
}
