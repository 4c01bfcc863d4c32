/**
 * Spans through `@opentelemetry/api`. With OTEL_DENO=true, Deno's built-in
 * OpenTelemetry provides the tracer and exports over OTLP beside its own
 * HTTP spans; otherwise every call here is a no-op. One event is followed
 * from webhook to result: the listener stores the W3C `traceparent` of its
 * enqueue span on the queued item, and the executor's span for that item
 * (and for results it chains) continues the same trace.
 */
import {
  type Attributes,
  context,
  INVALID_SPAN_CONTEXT,
  propagation,
  ProxyTracerProvider,
  type Span,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { problemStatus } from "@jobico/goico";

const tracer = trace.getTracer("jobico");

/** What `fn` gets when no span is made. */
const NO_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Whether spans go anywhere: false while the global tracer provider is the
 * API's proxy with nothing behind it (no OTEL_DENO, no SDK registered).
 * Then no span is made at all: a span that records nothing still cost the
 * listener 1.5-2 µs a request (bench/ingest_breakdown.ts). Asked at each
 * call, so a provider registered later is used.
 */
export function tracingOn(): boolean {
  const p = trace.getTracerProvider();
  return !(p instanceof ProxyTracerProvider) ||
    p.getDelegate().constructor.name !== "NoopTracerProvider";
}

/**
 * Runs `fn` in a span named `name`; a thrown error marks the span and is
 * rethrown. `attributes` may be a function, called only when a span is
 * made: with tracing off, nothing is built and no async frame is added.
 */
export function inSpan<T>(
  name: string,
  attributes: Attributes | (() => Attributes),
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  if (!tracingOn()) {
    try {
      return fn(NO_SPAN);
    } catch (err) {
      return Promise.reject(err);
    }
  }
  const attrs = typeof attributes === "function" ? attributes() : attributes;
  return tracer.startActiveSpan(name, { attributes: attrs }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
      span.setAttribute(
        "jobico.error",
        problemStatus(err),
      );
      throw err;
    } finally {
      span.end();
    }
  });
}

/** `inSpan` for synchronous work. */
export function inSpanSync<T>(
  name: string,
  attributes: Attributes | (() => Attributes),
  fn: (span: Span) => T,
): T {
  if (!tracingOn()) return fn(NO_SPAN);
  const attrs = typeof attributes === "function" ? attributes() : attributes;
  return tracer.startActiveSpan(name, { attributes: attrs }, (span) => {
    try {
      return fn(span);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The active span's `traceparent`, when a span is recording (else undefined: nothing to follow). */
export function currentTraceparent(): string | undefined {
  if (!trace.getActiveSpan()?.isRecording()) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/**
 * Records a finished span (start and duration known) as a child of
 * `traceparent`, or as a new trace without one.
 */
export function recordSpan(
  name: string,
  options: {
    traceparent?: string;
    startMs: number;
    durationMs: number;
    attributes: Attributes;
    error?: string;
  },
): void {
  if (!tracingOn()) return;
  const parent = options.traceparent
    ? propagation.extract(context.active(), {
      traceparent: options.traceparent,
    })
    : context.active();
  const span = tracer.startSpan(name, {
    startTime: options.startMs,
    attributes: options.attributes,
  }, parent);
  if (!span.isRecording()) return span.end();
  span.setStatus(
    options.error
      ? { code: SpanStatusCode.ERROR, message: options.error }
      : { code: SpanStatusCode.OK },
  );
  span.end(options.startMs + options.durationMs);
}
