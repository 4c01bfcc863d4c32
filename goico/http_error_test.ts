import assert from "node:assert/strict";
import {
  ConflictError,
  HttpError,
  NotFoundError,
  PayloadTooLargeError,
  problemBody,
  problemResponse,
  TooManyRequestsError,
  UnauthorizedError,
  UnprocessableError,
  ValidationError,
} from "./http_error.ts";

const CASES: [HttpError, number, string, string][] = [
  [new ValidationError("bad name"), 400, "Invalid request", "ValidationError"],
  [new UnauthorizedError(), 401, "Unauthorized", "UnauthorizedError"],
  [new NotFoundError("no job x"), 404, "Not found", "NotFoundError"],
  [new ConflictError("exists"), 409, "Conflict", "ConflictError"],
  [
    new PayloadTooLargeError("too big"),
    413,
    "Payload too large",
    "PayloadTooLargeError",
  ],
  [
    new UnprocessableError("no schema y"),
    422,
    "Unresolved references",
    "UnprocessableError",
  ],
  [
    new HttpError(429, "Too many requests", "slow down"),
    429,
    "Too many requests",
    "HttpError",
  ],
];

for (const [err, status, title, name] of CASES) {
  Deno.test(`problemBody: ${name} is ${status} ${title}`, () => {
    assert.ok(err instanceof HttpError);
    assert.ok(err instanceof Error);
    assert.equal(err.name, name);
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

Deno.test("problemBody: UnauthorizedError has a default message", () => {
  assert.equal(
    problemBody(new UnauthorizedError()).detail,
    "Missing or wrong bearer token",
  );
  assert.equal(problemBody(new UnauthorizedError("expired")).detail, "expired");
});

Deno.test("problemBody: extra members of ValidationError and UnprocessableError", () => {
  const issues = [{ path: "/name", message: "must be a string" }];
  assert.deepEqual(problemBody(new ValidationError("invalid", { issues })), {
    type: "about:blank",
    title: "Invalid request",
    status: 400,
    detail: "invalid",
    issues,
  });
  assert.deepEqual(
    problemBody(new UnprocessableError("unresolved", { missing: ["a"] }), "/p"),
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
  }
});

Deno.test("problemResponse: status, content type and body", async () => {
  const res = problemResponse(new ConflictError("already there"), "/jobs/a");
  assert.equal(res.status, 409);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
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

Deno.test("problemResponse: TooManyRequestsError carries Retry-After", async () => {
  const err = new TooManyRequestsError("queue full", 2.2, { limit: 5 });
  assert.equal(err.name, "TooManyRequestsError");
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
