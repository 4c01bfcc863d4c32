/**
 * Sends hostile requests and checks each one: the status is one of those
 * expected, an error is problem+json, the store did not change (every key
 * and versionstamp compared before and after), nothing of the protected
 * tenant was read, and the response holds none of its secrets or names
 * (unless the request itself carried them). Failures are collected, so a
 * test reports every hole at once.
 */
import type { Harness } from "./_harness.ts";
import {
  keyNamesTenant,
  kvDiff,
  type KvReadLog,
  kvSnapshot,
} from "./_kv_audit.ts";
import { rawRequest } from "./_raw_http.ts";

export interface Probe {
  method: string;
  /** The path and query, as given to `fetch` (which resolves `..` segments). */
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array | (() => ReadableStream<Uint8Array>);
  expect: readonly number[];
  /**
   * `hostile` (no token, a wrong token, another tenant's) is checked for
   * reads and leaks of the protected tenant; `admin` only for writes.
   */
  as: "admin" | "hostile";
  /** Names the probe in failures; default "METHOD path". */
  label?: string;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

export interface Protected {
  tenant: string;
  /** Strings of the tenant a hostile answer must never hold. */
  markers: string[];
  /** Reads of the tenant's keys that a request to `path` may make anyway. */
  mayRead?: (path: string, key: Deno.KvKey) => boolean;
  /** Skip the read check (e.g. a signature needs the tenant's secret). */
  skipReads?: boolean;
}

const dec = new TextDecoder();

export class Prober {
  readonly failures: string[] = [];
  /** Requests sent. */
  count = 0;

  constructor(
    private readonly h: Harness,
    private readonly reads: KvReadLog,
    public protect: Protected,
  ) {}

  /** Sends `p` with fetch and checks it; resolves to the answer (null when it failed to arrive). */
  send(p: Probe): Promise<Answer | null> {
    return this.#check(p, false, async () => {
      const ctrl = new AbortController();
      const timer = setTimeout(() => ctrl.abort(), 5000);
      try {
        const body = typeof p.body === "function" ? p.body() : p.body;
        const res = await fetch(this.h.url + p.path, {
          method: p.method,
          headers: p.headers,
          body: body as BodyInit | undefined,
          signal: ctrl.signal,
          ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
        } as RequestInit);
        return {
          status: res.status,
          headers: res.headers,
          text: await res.text(),
        };
      } finally {
        clearTimeout(timer);
      }
    });
  }

  /**
   * Sends `p` over a raw connection: `p.path` goes on the request line byte
   * for byte; `contentLength` overrides the header (a lie).
   */
  sendRaw(
    p: Probe & { contentLength?: number },
  ): Promise<Answer | null> {
    return this.#check(p, true, () => {
      const body = typeof p.body === "string"
        ? new TextEncoder().encode(p.body)
        : p.body instanceof Uint8Array
        ? p.body
        : new Uint8Array();
      const host = new URL(this.h.url).host;
      const lines = [
        `${p.method} ${p.path} HTTP/1.1`,
        `host: ${host}`,
        ...Object.entries(p.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
        `content-length: ${p.contentLength ?? body.length}`,
      ];
      return rawRequest(this.h.url, lines.join("\r\n"), body);
    });
  }

  /** Fails unless `cond`; for checks of an answer's content. */
  assert(cond: boolean, message: string): void {
    if (!cond) this.failures.push(message);
  }

  async #check(
    p: Probe,
    raw: boolean,
    send: () => Promise<Answer>,
  ): Promise<Answer | null> {
    this.count++;
    const label = p.label ?? `${p.method} ${p.path}`.slice(0, 200);
    const fail = (what: string) => this.failures.push(`${label}: ${what}`);
    const before = await kvSnapshot(this.h.kv);
    this.reads.start();
    let res: Answer;
    try {
      res = await send();
    } catch (err) {
      this.reads.stop();
      fail(`no answer: ${err}`);
      return null;
    }
    const readLog = this.reads.stop();
    const changed = kvDiff(before, await kvSnapshot(this.h.kv));
    if (changed.length > 0) {
      fail(`changed the store: ${changed.slice(0, 6).join("; ")}`);
    }
    if (!p.expect.includes(res.status)) {
      fail(
        `answered ${res.status}, expected ${p.expect.join(" or ")}: ${
          res.text.slice(0, 300)
        }`,
      );
    }
    // Answers of the platform are problem+json; a raw request may be refused by the HTTP parser itself.
    const ours = !raw || res.headers.has("content-type");
    if (
      res.status >= 400 && ours &&
      res.headers.get("content-type") !== "application/problem+json"
    ) {
      fail(`error answered as ${res.headers.get("content-type")}`);
    }
    if (p.as === "hostile") {
      const sent = [
        p.path,
        JSON.stringify(p.headers ?? {}),
        typeof p.body === "string"
          ? p.body
          : p.body instanceof Uint8Array
          ? dec.decode(p.body)
          : "",
      ].join("\n");
      for (const m of this.protect.markers) {
        if (res.text.includes(m) && !sent.includes(m)) {
          fail(
            `the answer holds "${
              m.slice(0, 20)
            }" of tenant "${this.protect.tenant}"`,
          );
        }
      }
      if (!this.protect.skipReads) {
        for (const r of readLog) {
          for (const k of r.keys) {
            if (
              keyNamesTenant(k, this.protect.tenant) &&
              !this.protect.mayRead?.(p.path, k)
            ) {
              fail(`read ${JSON.stringify(k)} (${r.method})`);
            }
          }
        }
      }
    }
    return res;
  }
}
