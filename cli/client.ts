import { ApiError, ConnectionError } from "./api_error.ts";
import type {
  CancelResult,
  DeadLetterPage,
  DeadLetterQuery,
  DelayedPage,
  DeployPlan,
  DeployResult,
  Execution,
  ExecutionPage,
  ExecutionQuery,
  ExecutionStatus,
  FileInfo,
  FileKind,
  Health,
  Meta,
  PackageDetail,
  PackageRef,
  PackageSummary,
  PackageVersion,
  PendingFile,
  Problem,
  PurgeResult,
  QueueInfo,
  QueueLimits,
  ReplayResult,
  RerunResult,
  RetentionStatus,
  ScheduleList,
  SendResult,
  TenantInfo,
  TenantSettingsPatch,
  TenantToken,
  WebhookSecret,
  Whoami,
} from "./api_types.ts";
import { readSse } from "./read_sse.ts";
import {
  SIGNATURE_HEADER,
  signWebhook,
} from "../components/listener/webhook_signature.ts";

export { ApiError, ConnectionError } from "./api_error.ts";

/** Options of {@linkcode JobicoClient}. */
export interface JobicoClientOptions {
  /** The platform's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
  /** The fetch to use; the global `fetch` by default. */
  fetch?: typeof fetch;
  /** Cancels every request of this client. */
  signal?: AbortSignal;
}

/** Options of {@linkcode JobicoClient.sendEvents}. */
export interface SendOptions {
  /**
   * The tenant's webhook secret: when set, the exact body sent is signed in
   * a `Jobico-Signature` header (for events declared with `auth: hmac`).
   */
  sign?: string;
  /** The clock of the signature, in ms since the Unix epoch; `Date.now` by default. */
  now?: () => number;
  /** Run the items this long from now (`30s`, `5m`, `1500ms`): `?delay=`. */
  delay?: string;
  /** Run the items at this RFC 3339 time: `?runAt=`. */
  runAt?: string;
}

/** Options of {@linkcode JobicoClient.streamExecutions}. */
export interface StreamOptions {
  package?: string;
  event?: string;
  status?: ExecutionStatus;
  /** Start after this execution id (what was missed since, then new ones). */
  lastEventId?: string;
  signal?: AbortSignal;
}

interface RequestOptions {
  method?: string;
  query?: Record<string, string | number | undefined>;
  body?: BodyInit;
  contentType?: string;
  accept?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * A typed client of the Jobico HTTP API. Error statuses throw
 * {@linkcode ApiError}; an unreachable platform throws
 * {@linkcode ConnectionError}.
 */
export class JobicoClient {
  readonly url: string;
  readonly #token?: string;
  readonly #fetch: typeof fetch;
  readonly #signal?: AbortSignal;

  constructor(options: JobicoClientOptions) {
    this.url = options.url.replace(/\/+$/, "");
    this.#token = options.token || undefined;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#signal = options.signal;
  }

  /**
   * A client of another process of the same platform (`status`, `deploy
   * --wait-for`), with this one's token: `/meta` tells the rest of what a
   * process runs only to a caller with a token.
   */
  at(url: string): JobicoClient {
    return new JobicoClient({
      url,
      token: this.#token,
      fetch: this.#fetch,
      signal: this.#signal,
    });
  }

  /** Deploys a package from its YAML (or JSON) text. */
  /**
   * Deploys a package. One with nothing to change keeps the current
   * version (`unchanged`), unless `force` makes a new one.
   */
  deploy(
    source: string,
    options: { force?: boolean } = {},
  ): Promise<DeployResult> {
    return this.#json(
      options.force ? "/api/v1/packages?force=true" : "/api/v1/packages",
      { method: "POST", body: source, contentType: "application/yaml" },
    );
  }

  /**
   * What deploying `source` would change, validated like a deploy; nothing
   * is stored. `pending` files are resolved as if already uploaded.
   */
  planDeploy(source: string, pending: PendingFile[] = []): Promise<DeployPlan> {
    const files = pending.map((f) => `${f.name}:${f.kind}:${f.sha256}`);
    return this.#json(
      `/api/v1/packages?dryRun=true${
        files.map((f) => `&file=${encodeURIComponent(f)}`).join("")
      }`,
      { method: "POST", body: source, contentType: "application/yaml" },
    );
  }

  /** Who the token belongs to: the admin or one tenant. */
  whoami(): Promise<Whoami> {
    return this.#json("/api/v1/whoami");
  }

  async listPackages(tenant: string): Promise<PackageSummary[]> {
    const res = await this.#json<{ packages: PackageSummary[] }>(
      `${tenantPath(tenant)}/packages`,
    );
    return res.packages;
  }

  getPackage(tenant: string, id: string): Promise<PackageDetail> {
    return this.#json(packagePath(tenant, id));
  }

  async listVersions(tenant: string, id: string): Promise<PackageVersion[]> {
    const res = await this.#json<{ versions: PackageVersion[] }>(
      `${packagePath(tenant, id)}/versions`,
    );
    return res.versions;
  }

  /** Makes an earlier version current again. */
  rollback(tenant: string, id: string, version: number): Promise<PackageRef> {
    return this.#json(`${packagePath(tenant, id)}/rollback`, {
      method: "POST",
      body: JSON.stringify({ version }),
      contentType: "application/json",
    });
  }

  /** Creates a tenant (admin token); its token is in the answer, once. */
  createTenant(id: string): Promise<TenantToken> {
    return this.#json("/api/v1/tenants", {
      method: "POST",
      body: JSON.stringify({ id }),
      contentType: "application/json",
    });
  }

  async listTenants(): Promise<TenantInfo[]> {
    return (await this.#json<{ tenants: TenantInfo[] }>("/api/v1/tenants"))
      .tenants;
  }

  /** A tenant, with its retention, quotas and usage. */
  getTenant(id: string): Promise<TenantInfo> {
    return this.#json(tenantPath(id));
  }

  /** Changes a tenant's retention and quotas (admin token). */
  setTenantSettings(
    id: string,
    patch: TenantSettingsPatch,
  ): Promise<TenantInfo> {
    return this.#json(tenantPath(id), {
      method: "PATCH",
      body: JSON.stringify(patch),
      contentType: "application/json",
    });
  }

  /** The platform's default retention and quotas, and its sweeper (admin token). */
  retention(): Promise<RetentionStatus> {
    return this.#json("/api/v1/retention");
  }

  /** Deletes a tenant and everything of it (admin token). */
  async deleteTenant(id: string): Promise<void> {
    const res = await this.#request(tenantPath(id), { method: "DELETE" });
    await res.body?.cancel();
  }

  /** Makes a new token for a tenant; the old one stops working. */
  rotateToken(id: string): Promise<TenantToken> {
    return this.#json(`${tenantPath(id)}/token`, { method: "POST" });
  }

  /** The tenant's webhook signing secret; `rotate` makes a new one. */
  webhookSecret(id: string, rotate = false): Promise<WebhookSecret> {
    return this.#json(
      `${tenantPath(id)}/webhook-secret`,
      rotate ? { method: "POST" } : {},
    );
  }

  async deletePackage(tenant: string, id: string): Promise<void> {
    const res = await this.#request(packagePath(tenant, id), {
      method: "DELETE",
    });
    await res.body?.cancel();
  }

  /** Uploads a wasm module or a JSON Schema under `name`. */
  uploadFile(
    tenant: string,
    name: string,
    kind: FileKind,
    bytes: Uint8Array<ArrayBuffer>,
  ): Promise<FileInfo> {
    return this.#json(filePath(tenant, name), {
      method: "PUT",
      query: { kind },
      body: bytes,
      contentType: kind === "wasm" ? "application/wasm" : "application/json",
    });
  }

  /** Deletes an uploaded file (versions that use its content keep it). */
  async deleteFile(tenant: string, name: string): Promise<void> {
    const res = await this.#request(filePath(tenant, name), {
      method: "DELETE",
    });
    await res.body?.cancel();
  }

  /** The bytes of an uploaded file. */
  async getFile(tenant: string, name: string): Promise<Uint8Array> {
    const res = await this.#request(filePath(tenant, name), {
      accept: "*/*",
    });
    return new Uint8Array(await res.arrayBuffer());
  }

  async listFiles(tenant: string): Promise<FileInfo[]> {
    const res = await this.#json<{ files: FileInfo[] }>(
      `${tenantPath(tenant)}/files`,
    );
    return res.files;
  }

  /** One page of executions, newest first. */
  listExecutions(
    tenant: string,
    query: ExecutionQuery = {},
  ): Promise<ExecutionPage> {
    return this.#json(`${tenantPath(tenant)}/executions`, {
      query: { ...query },
    });
  }

  /**
   * Opens the recorder's live stream of executions. Connection and HTTP
   * errors throw here; the returned iterator then yields executions until
   * the server ends the stream or `signal` aborts (then it just stops).
   * When the server drops the stream because this client fell behind (a
   * `dropped` event), it reconnects after the last execution it yielded
   * (`Last-Event-ID`), so none is missed.
   */
  async streamExecutions(
    tenant: string,
    options: StreamOptions = {},
  ): Promise<AsyncGenerator<Execution>> {
    const open = (lastEventId: string | undefined) =>
      this.#request(`${tenantPath(tenant)}/executions/stream`, {
        query: {
          package: options.package,
          event: options.event,
          status: options.status,
        },
        accept: "text/event-stream",
        headers: lastEventId ? { "last-event-id": lastEventId } : {},
        signal: options.signal,
      });
    const res = await open(options.lastEventId);
    const signals = [this.#signal, options.signal].filter((s) => s != null);
    return executions(
      res.body,
      signals.length > 1 ? AbortSignal.any(signals) : signals[0],
      options.lastEventId,
      async (last) => (await open(last)).body,
    );
  }

  /** The tenant's queues with what each holds and has done. */
  async listQueues(tenant: string): Promise<QueueInfo[]> {
    const res = await this.#json<{ queues: QueueInfo[] }>(
      `${tenantPath(tenant)}/queues`,
    );
    return res.queues;
  }

  getQueue(tenant: string, queue: string): Promise<QueueInfo> {
    return this.#json(queuePath(tenant, queue));
  }

  /** One page of a queue's dead letters, oldest first. */
  listDeadLetters(
    tenant: string,
    queue: string,
    query: DeadLetterQuery = {},
  ): Promise<DeadLetterPage> {
    return this.#json(`${queuePath(tenant, queue)}/dead`, {
      query: { ...query },
    });
  }

  /** Puts dead letters back in their queue: those of `ids`, or all. */
  replayDeadLetters(
    tenant: string,
    queue: string,
    ids?: string[],
  ): Promise<ReplayResult> {
    return this.#json(`${queuePath(tenant, queue)}/dead/replay`, {
      method: "POST",
      body: JSON.stringify(ids?.length ? { ids } : {}),
      contentType: "application/json",
    });
  }

  /** Deletes dead letters for good: those of `ids`, or all. */
  purgeDeadLetters(
    tenant: string,
    queue: string,
    ids?: string[],
  ): Promise<PurgeResult> {
    return this.#json(`${queuePath(tenant, queue)}/dead`, {
      method: "DELETE",
      body: JSON.stringify(ids?.length ? { ids } : {}),
      contentType: "application/json",
    });
  }

  /** Sends event items to the listener, signed when `options.sign` is set. */
  async sendEvents(
    tenant: string,
    event: string,
    data: unknown[],
    options: SendOptions = {},
  ): Promise<SendResult> {
    const body = new TextEncoder().encode(JSON.stringify({ data }));
    const headers: Record<string, string> = {};
    if (options.sign) {
      const t = Math.floor((options.now ?? Date.now)() / 1000);
      headers[SIGNATURE_HEADER] = await signWebhook(options.sign, body, t);
    }
    return this.#json(`/events/${seg(tenant)}/${seg(event)}`, {
      method: "POST",
      body,
      contentType: "application/json",
      headers,
      query: { delay: options.delay, runAt: options.runAt },
    });
  }

  /** Cancels an event item that waits in its queue or was delayed. */
  cancelEvent(
    tenant: string,
    event: string,
    id: string,
  ): Promise<CancelResult> {
    return this.#json(
      `${tenantPath(tenant)}/events/${seg(event)}/items/${seg(id)}`,
      { method: "DELETE" },
    );
  }

  /** One page of a queue's delayed events, in id order. */
  listDelayed(
    tenant: string,
    queue: string,
    query: { limit?: number; cursor?: string } = {},
  ): Promise<DelayedPage> {
    return this.#json(`${queuePath(tenant, queue)}/delayed`, {
      query: { ...query },
    });
  }

  /** The flow limits of a queue's events and their use now. */
  queueLimits(tenant: string, queue: string): Promise<QueueLimits> {
    return this.#json(`${queuePath(tenant, queue)}/limits`);
  }

  /** The scheduled events of a tenant, their next tick and the last sent. */
  listSchedules(tenant: string): Promise<ScheduleList> {
    return this.#json(`${tenantPath(tenant)}/schedules`);
  }

  /** Sends a recorded execution's input to its event again. */
  rerunExecution(tenant: string, id: string): Promise<RerunResult> {
    return this.#json(
      `${tenantPath(tenant)}/executions/${seg(id)}/rerun`,
      { method: "POST" },
    );
  }

  /** The platform's health; a failing one (503) is returned, not thrown. */
  async health(): Promise<Health> {
    try {
      return await this.#json<Health>("/healthz");
    } catch (error) {
      if (
        error instanceof ApiError && error.status === 503 &&
        typeof error.body.status === "string"
      ) {
        return error.body as unknown as Health;
      }
      throw error;
    }
  }

  meta(): Promise<Meta> {
    return this.#json("/meta");
  }

  async #json<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.#request(path, options);
    const text = await res.text();
    return (text ? JSON.parse(text) : {}) as T;
  }

  async #request(path: string, options: RequestOptions = {}) {
    const url = new URL(this.url + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== "") {
        url.searchParams.set(key, String(value));
      }
    }
    const headers = new Headers({
      ...options.headers,
      accept: options.accept ?? "application/json",
    });
    if (options.contentType) headers.set("content-type", options.contentType);
    if (this.#token) headers.set("authorization", `Bearer ${this.#token}`);
    const signals = [this.#signal, options.signal].filter((s) => s != null);
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method: options.method ?? "GET",
        headers,
        body: options.body,
        signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
      });
    } catch (error) {
      if (isAbort(error, ...signals)) throw error;
      throw ConnectionError.from(this.url, error);
    }
    if (!res.ok) {
      throw await toApiError(res, {
        method: options.method ?? "GET",
        path: url.pathname,
      });
    }
    return res;
  }
}

/**
 * The executions of a stream; after a `dropped` event, or a connection
 * that breaks mid-stream (the server cuts a client that fell behind and
 * did not read even that event), it reopens the stream after the last
 * execution yielded. Three reopenings in a row that bring nothing end it
 * with the last error.
 */
async function* executions(
  first: ReadableStream<Uint8Array> | null,
  signal: AbortSignal | undefined,
  lastEventId: string | undefined,
  reopen: (lastEventId: string | undefined) => Promise<
    ReadableStream<Uint8Array> | null
  >,
): AsyncGenerator<Execution> {
  let body = first;
  let last = lastEventId;
  let fruitless = 0;
  try {
    while (body) {
      let dropped = false;
      let broken: unknown;
      try {
        for await (const message of readSse(body, { signal })) {
          if (message.event === "revoked") {
            // Its token was rotated or revoked, or the tenant deleted:
            // reconnecting would not help.
            throw new StreamRevokedError(parseReason(message.data));
          }
          if (message.event === "dropped") {
            dropped = true;
            // Where the server stopped, when no execution came before.
            last ??= parseDropped(message.data);
          }
          if (message.event !== "execution") continue;
          const execution = JSON.parse(message.data) as Execution;
          last = execution.id;
          fruitless = 0;
          yield execution;
        }
      } catch (error) {
        if (isAbort(error, signal)) return;
        if (error instanceof StreamRevokedError) throw error;
        broken = error;
      }
      if (signal?.aborted) return;
      if (!dropped && broken === undefined) return;
      if (++fruitless > 3) {
        throw broken ?? new Error("The stream kept dropping");
      }
      body = await reopen(last);
    }
  } catch (error) {
    if (isAbort(error, signal)) return;
    throw error;
  }
}

/** The server ended a stream because its client may no longer read it. */
export class StreamRevokedError extends Error {
  constructor(reason: string) {
    super(`The server ended the stream: ${reason}`);
    this.name = "StreamRevokedError";
  }
}

function parseReason(data: string): string {
  try {
    const reason = JSON.parse(data)?.reason;
    if (typeof reason === "string") return reason;
  } catch {
    // Not JSON: said as sent.
  }
  return data.slice(0, 500);
}

function parseDropped(data: string): string | undefined {
  try {
    const id = JSON.parse(data)?.lastEventId;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}

async function toApiError(
  res: Response,
  request: { method: string; path: string },
): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  let body: Problem = {};
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      body = parsed;
    }
  } catch {
    if (text.trim()) body = { detail: text.trim().slice(0, 500) };
  }
  const retry = res.headers.get("retry-after");
  return new ApiError(res.status, body, res.statusText, {
    request,
    retryAfter: retry && /^\d+$/.test(retry) ? Number(retry) : undefined,
  });
}

function isAbort(error: unknown, ...signals: (AbortSignal | undefined)[]) {
  return signals.some((s) => s?.aborted) ||
    (error instanceof DOMException && error.name === "AbortError");
}

function seg(value: string): string {
  return encodeURIComponent(value);
}

function tenantPath(tenant: string): string {
  return `/api/v1/tenants/${seg(tenant)}`;
}

function packagePath(tenant: string, id: string): string {
  return `${tenantPath(tenant)}/packages/${seg(id)}`;
}

function queuePath(tenant: string, queue: string): string {
  return `${tenantPath(tenant)}/queues/${seg(queue)}`;
}

function filePath(tenant: string, name: string): string {
  return `${tenantPath(tenant)}/files/${seg(name)}`;
}
