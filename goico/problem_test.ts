import assert from "node:assert/strict";
import { HTTPException } from "hono/http-exception";
import {
  ConflictError,
  DomainError,
  ForbiddenError,
  NotFoundError,
  TooLargeError,
  TooManyError,
  UnauthenticatedError,
  UnresolvedError,
  ValidationError,
} from "./domain_error.ts";
import { StoreUnavailableError } from "./store_error.ts";
import { problemBody, problemResponse, problemStatus } from "./problem.ts";

const CASES: [DomainError, number, string, string][] = [
  [new ValidationError("bad name"), 400, "Invalid request", "ValidationError"],
  [
    new UnauthenticatedError(),
    401,
    "Unauthorized",
    "UnauthenticatedError",
  ],
  [new ForbiddenError("not yours"), 403, "Forbidden", "ForbiddenError"],
  [new NotFoundError("no job x"), 404, "Not found", "NotFoundError"],
  [new ConflictError("exists"), 409, "Conflict", "ConflictError"],
  [new TooLargeError("too big"), 413, "Payload too large", "TooLargeError"],
  [
    new UnresolvedError("no schema y"),
    422,
    "Unresolved references",
    "UnresolvedError",
  ],
  [
    new TooManyError("slow down", undefined),
    429,
    "Too many requests",
    "TooManyError",
  ],
];

for (const [err, status, title, name] of CASES) {
  Deno.test(`problemBody: ${name} (${err.kind}) is ${status} ${title}`, () => {
    assert.ok(err instanceof DomainError);
    assert.ok(err instanceof Error);
    assert.equal(err.name, name);
    assert.equal(problemStatus(err), status);
    assert.deepEqual(problemBody(err), {
      type: "about:blank",
      title,
      status,
      detail: err.message,
    });
    assert.deepEqual(problemBody(err, "/some/path"), {
      type: "about:blank",
      title,
      status,
      detail: err.message,
      instance: "/some/path",
    });
  });
}

Deno.test("domain errors carry no HTTP status, title or headers; a cause is kept", () => {
  const cause = new TypeError("the store said no");
  const err = new ConflictError("exists", { cause });
  assert.equal(err.cause, cause);
  for (const member of ["status", "title", "headers"]) {
    assert.ok(!(member in err), member);
  }
  // The cause stays in the log: the client never sees it.
  assert.ok(!JSON.stringify(problemBody(err)).includes("store said no"));
});

Deno.test("problemBody: UnauthenticatedError has a default message", () => {
  assert.equal(
    problemBody(new UnauthenticatedError()).detail,
    "Missing or wrong bearer token",
  );
  assert.equal(
    problemBody(new UnauthenticatedError("expired")).detail,
    "expired",
  );
});

Deno.test("problemBody: extra members of ValidationError and UnresolvedError", () => {
  const issues = [{ path: "/name", message: "must be a string" }];
  assert.deepEqual(problemBody(new ValidationError("invalid", { issues })), {
    type: "about:blank",
    title: "Invalid request",
    status: 400,
    detail: "invalid",
    issues,
  });
  assert.deepEqual(
    problemBody(new UnresolvedError("unresolved", { missing: ["a"] }), "/p"),
    {
      type: "about:blank",
      title: "Unresolved references",
      status: 422,
      detail: "unresolved",
      instance: "/p",
      missing: ["a"],
    },
  );
});

Deno.test("problemBody: unknown errors are a 500 that hides the message", () => {
  for (const err of [new Error("db password is hunter2"), "a string", null]) {
    const body = problemBody(err, "/x");
    assert.deepEqual(body, {
      type: "about:blank",
      title: "Internal server error",
      status: 500,
      detail: "The server failed to handle the request; see its log",
      instance: "/x",
    });
    assert.ok(!JSON.stringify(body).includes("hunter2"));
    assert.equal(problemStatus(err), 500);
  }
});

Deno.test("problemBody: Hono's HTTPException keeps its status", () => {
  const err = new HTTPException(405, { message: "not here" });
  assert.equal(problemStatus(err), 405);
  assert.deepEqual(problemBody(err, "/x"), {
    type: "about:blank",
    title: "Request failed",
    status: 405,
    detail: "not here",
    instance: "/x",
  });
});

Deno.test("problemResponse: status, content type and body", async () => {
  const res = problemResponse(new ConflictError("already there"), "/jobs/a");
  assert.equal(res.status, 409);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.equal(res.headers.get("retry-after"), null);
  assert.deepEqual(await res.json(), {
    type: "about:blank",
    title: "Conflict",
    status: 409,
    detail: "already there",
    instance: "/jobs/a",
  });
  const internal = problemResponse(new TypeError("x is undefined"));
  assert.equal(internal.status, 500);
  assert.equal((await internal.json()).title, "Internal server error");
});

Deno.test("problemResponse: TooManyError's retryAfter is the Retry-After header", async () => {
  const err = new TooManyError("queue full", 2.2, { limit: 5 });
  assert.equal(err.name, "TooManyError");
  assert.equal(err.retryAfter, 3);
  const res = problemResponse(err, "/events/a/b");
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "3");
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.deepEqual(await res.json(), {
    type: "about:blank",
    title: "Too many requests",
    status: 429,
    detail: "queue full",
    instance: "/events/a/b",
    limit: 5,
  });
});

Deno.test("problemResponse: a store failure is a 503 with Retry-After", async () => {
  const res = problemResponse(new StoreUnavailableError("full", "disk full"));
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "5");
  assert.equal((await res.json()).title, "Store unavailable");
});
