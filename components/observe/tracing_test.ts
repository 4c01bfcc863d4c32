import assert from "node:assert/strict";
import {
  INVALID_SPAN_CONTEXT,
  type Span,
  type SpanOptions,
  trace,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import { inSpan, inSpanSync, tracingOn } from "./tracing.ts";

Deno.test("tracing: without a tracer provider no span is made, and the work runs as before", async () => {
  assert.equal(tracingOn(), false);
  const got = await inSpan("jobico.test", { a: 1 }, (span) => {
    assert.equal(span.isRecording(), false);
    return Promise.resolve(42);
  });
  assert.equal(got, 42);
  assert.equal(inSpanSync("jobico.test", {}, () => "sync"), "sync");
  await assert.rejects(
    () => inSpan("jobico.test", {}, () => Promise.reject(new Error("boom"))),
    /boom/,
  );
});

Deno.test("tracing: a provider registered later is used at the next call", async () => {
  // A tracer that only names the spans it is asked for (what an SDK gets).
  const started: string[] = [];
  const span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  const tracer = {
    startSpan: (name: string) => {
      started.push(name);
      return span;
    },
    startActiveSpan: (
      name: string,
      _options: SpanOptions,
      fn: (span: Span) => unknown,
    ) => {
      started.push(name);
      return fn(span);
    },
  } as unknown as Tracer;
  const provider: TracerProvider = { getTracer: () => tracer };
  assert.ok(trace.setGlobalTracerProvider(provider));
  try {
    assert.equal(tracingOn(), true);
    await inSpan("jobico.enqueue", {}, () => Promise.resolve());
    inSpanSync("jobico.validate", {}, () => {});
    assert.deepEqual(started, ["jobico.enqueue", "jobico.validate"]);
  } finally {
    trace.disable();
  }
  assert.equal(tracingOn(), false);
});
