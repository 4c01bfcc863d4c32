/**
 * The API description: `GET /api/v1/openapi.json`, OpenAPI 3.1 generated
 * from the routes of the app it is given (each route carries its own
 * `describeRoute`, so the document cannot miss or invent one), and
 * `GET /docs`, an interactive reference page. Neither needs a token.
 *
 * The page is Scalar's API reference: the HTML is served here, the viewer
 * itself is loaded by the browser from a CDN, pinned to one version and
 * checked by Subresource Integrity (a changed file does not run), under a
 * Content-Security-Policy that lets the page run only that file and its
 * own inline script (by a nonce drawn per request), and talk only to this
 * platform. Without network access the page still says what it is and
 * links to the document, which is served by the platform.
 */
import { Hono } from "hono";
import { describeRoute, generateSpecs } from "hono-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import {
  json,
  problemComponents,
  PUBLIC,
  type Schema,
  SCHEMAS,
} from "./schemas.ts";

export const OPENAPI_PATH = "/api/v1/openapi.json";
export const DOCS_PATH = "/docs";

/**
 * The viewer's script: one version of `@scalar/api-reference`, and the
 * sha-384 of its `dist/browser/standalone.js` as the npm package holds it
 * (the CDN serves npm files byte for byte). To move to another version,
 * change both: `openssl dgst -sha384 -binary standalone.js | base64`.
 */
export const DOCS_VIEWER = {
  url:
    "https://cdn.jsdelivr.net/npm/@scalar/api-reference@1.76.0/dist/browser/standalone.js",
  integrity:
    "sha384-oH1C0RwqcwbVXkC+r8A+4qRoyEUQdtxAzOwumkxZtQBBcsy61FOoPt7B50OVJYYQ",
};

/** What the page may do: run the pinned viewer and its own nonced script, reach only this platform. */
export function docsPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}' ${DOCS_VIEWER.url}`,
    // The viewer sets styles at run time.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

export interface OpenApiOptions {
  /** The platform's version (`info.version`). */
  version: string;
}

const DESCRIPTION = `
Jobico runs WebAssembly jobs for many tenants: deploy a job package, upload
its modules and schemas, send events, and read or follow the executions.

**Authentication.** Every \`/api/v1\` route needs \`Authorization: Bearer
<token>\`: the admin token, or a tenant's token (from \`POST
/api/v1/tenants\` or \`POST /api/v1/tenants/{tenant}/token\`). None or an
unknown one is a 401; a tenant's token on another tenant's routes, or on a
route only the admin may use, a 403. \`/healthz\`, \`/meta\`, this document
and \`/docs\` need none. Events (\`POST /events/{tenant}/{event}\`) need
what their definition's \`auth\` says: a token (\`token\`, the default), a
\`Jobico-Signature\` or a token (\`hmac\`), or nothing (\`public\`).

**Errors** are \`application/problem+json\` (RFC 9457) with a \`detail\`
naming what was wrong, and \`issues\` (package problems, each with its line
and column) or \`errors\` (schema errors of event items) where there are
several. Any route that writes may also answer 503 with \`Retry-After\`
when the store cannot take writes (a full disk: \`"store": "full"\`), and
nothing of the request is stored.

**Names** in paths (tenant, package, event, queue ids) are 1 to 64
characters of letters, digits, \`.\`, \`_\` and \`-\`, starting with a letter
or digit; file names the same up to 128.
`.trim();

const SIGNATURE_DESCRIPTION = `
For events whose definition says \`auth: hmac\`:
\`Jobico-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>\`, the HMAC keyed
with the tenant's webhook secret (\`GET /api/v1/tenants/{tenant}/webhook-secret\`)
over the ASCII digits of \`t\`, one \`.\`, then the request body byte for
byte. Accepted within 300 s of the server's clock, once; several \`v1\`
entries may be given during a secret rotation.
`.trim();

/** What the document says besides its paths. */
export function apiDocumentation(options: OpenApiOptions) {
  return {
    openapi: "3.1.0",
    info: {
      title: "Jobico API",
      version: options.version,
      description: DESCRIPTION,
    },
    tags: [
      { name: "tenants", description: "Tenants, their tokens and secrets" },
      { name: "packages", description: "Job packages and their versions" },
      { name: "files", description: "Modules and schemas of a tenant" },
      { name: "events", description: "The listener: sending events" },
      { name: "executions", description: "The recorder: what ran" },
      { name: "queues", description: "Queue stats and dead letters" },
      { name: "service", description: "Health, version and this document" },
    ],
    security: [{ bearerAuth: [] }],
    components: {
      schemas: SCHEMAS as Record<string, Schema>,
      responses: problemComponents(),
      securitySchemes: {
        bearerAuth: {
          type: "http" as const,
          scheme: "bearer",
          description: "The admin token or a tenant's token",
        },
        webhookSignature: {
          type: "apiKey" as const,
          in: "header" as const,
          name: "Jobico-Signature",
          description: SIGNATURE_DESCRIPTION,
        },
      },
    },
  };
}

/** The OpenAPI document of `app`'s described routes. */
export async function openApiDocument(
  app: Hono,
  options: OpenApiOptions,
): Promise<Record<string, unknown>> {
  return await generateSpecs(app, {
    documentation: apiDocumentation(options),
    // The document's own path ends in ".json": keep it.
    excludeStaticFile: false,
  }) as unknown as Record<string, unknown>;
}

/**
 * The routes of the description. `root` is the app whose routes are
 * described: the document is made on the first request, when every route
 * is mounted, and kept.
 */
export function openApiApp(
  root: Hono,
  options: OpenApiOptions,
): Hono {
  const app = new Hono();
  let document: Promise<Record<string, unknown>> | undefined;

  app.get(
    OPENAPI_PATH,
    describeRoute({
      operationId: "openapi",
      tags: ["service"],
      summary: "This API description (OpenAPI 3.1)",
      security: PUBLIC,
      responses: {
        200: json("The OpenAPI 3.1 document", {
          type: "object",
          required: ["openapi", "info", "paths"],
          properties: {
            openapi: { type: "string", pattern: "^3\\.1\\." },
            info: { type: "object" },
            paths: { type: "object" },
          },
        }),
      },
    }),
    async (c) => {
      document ??= openApiDocument(root, options);
      return c.json(await document);
    },
  );

  const scalar = Scalar((c) => ({
    url: OPENAPI_PATH,
    pageTitle: `Jobico API ${options.version} reference`,
    cdn: DOCS_VIEWER.url,
    nonce: c.get("nonce" as never) as string,
    // Its fonts come from another host: the system's instead.
    withDefaultFonts: false,
  }));
  app.get(
    DOCS_PATH,
    describeRoute({
      operationId: "docs",
      tags: ["service"],
      summary: "Interactive reference of this API (HTML)",
      description:
        "Scalar's API reference over `/api/v1/openapi.json`. The viewer is " +
        "loaded by the browser from a CDN; without it, the page links to the " +
        "document.",
      security: PUBLIC,
      responses: {
        200: {
          description: "An HTML page",
          content: { "text/html": { schema: { type: "string" } } },
        },
      },
    }),
    // One parameter: a handler, not a middleware (tests tell them apart so).
    async (c) => {
      const nonce = btoa(
        String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
      );
      c.set("nonce" as never, nonce as never);
      const res = await scalar(c, () => Promise.resolve()) as Response;
      const page = await res.text();
      const tag = `<script src="${DOCS_VIEWER.url}" nonce="${nonce}"></script>`;
      if (!page.includes(tag)) {
        throw new Error("The docs page no longer loads the pinned viewer");
      }
      const html = page
        .replace(
          tag,
          `<script src="${DOCS_VIEWER.url}" integrity="${DOCS_VIEWER.integrity}" crossorigin="anonymous" nonce="${nonce}"></script>`,
        )
        .replace("<body>", `<body>${BANNER}`);
      return c.html(html, 200, {
        "content-security-policy": docsPolicy(nonce),
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
      });
    },
  );
  app.get(
    "/",
    describeRoute({
      operationId: "root",
      tags: ["service"],
      summary: "Where to look: the reference, the API description, the health",
      description:
        "JSON naming the platform and its pointers; an HTML page of links " +
        "for a client that prefers `text/html` (a browser).",
      security: PUBLIC,
      responses: {
        200: {
          description: "The pointers",
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["name", "version", "docs", "openapi", "health"],
                properties: {
                  name: { type: "string" },
                  version: { type: "string" },
                  docs: { type: "string" },
                  openapi: { type: "string" },
                  health: { type: "string" },
                },
                additionalProperties: false,
              },
            },
            "text/html": { schema: { type: "string" } },
          },
        },
      },
    }),
    (c) => {
      const pointers = {
        name: "jobico",
        version: options.version,
        docs: DOCS_PATH,
        openapi: OPENAPI_PATH,
        health: "/healthz",
      };
      if (prefersHtml(c.req.header("accept"))) {
        return c.html(rootPage(pointers.version), 200, {
          "content-security-policy": "default-src 'none'",
          "x-content-type-options": "nosniff",
        });
      }
      return c.json(pointers);
    },
  );
  return app;
}

/** Whether an Accept header asks for HTML before JSON (a browser's does). */
function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const html = accept.indexOf("text/html");
  const json = accept.indexOf("application/json");
  return html !== -1 && (json === -1 || html < json);
}

/** The root page of a browser: three links, no script. */
function rootPage(version: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Jobico ${version}</title></head>
<body style="font: 15px/1.6 system-ui, sans-serif; margin: 2em">
<h1>Jobico ${version}</h1>
<ul>
<li><a href="${DOCS_PATH}">${DOCS_PATH}</a>: the API reference</li>
<li><a href="${OPENAPI_PATH}">${OPENAPI_PATH}</a>: the API description (OpenAPI 3.1)</li>
<li><a href="/healthz">/healthz</a>: the platform's health</li>
</ul>
</body></html>
`;
}

/** What the page says before (and without) the viewer. */
const BANNER = `
    <header style="font: 14px/1.5 system-ui, sans-serif; padding: 8px 16px; border-bottom: 1px solid #8884">
      <strong>Jobico API reference</strong>: an interactive view of
      <a href="${OPENAPI_PATH}">${OPENAPI_PATH}</a>, the OpenAPI 3.1
      description this platform serves. The viewer (Scalar, one pinned version
      checked by its hash) is loaded from cdn.jsdelivr.net; without network
      access, read the description itself.
    </header>
    <noscript>The viewer needs JavaScript: read <a href="${OPENAPI_PATH}">${OPENAPI_PATH}</a>.</noscript>`;
