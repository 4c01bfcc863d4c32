/**
 * Goico: the framework under Jobico. Services, KV storage, change feeds,
 * durable queues and a WebAssembly guest runtime.
 * @module
 */
export {
  type BlobMeta,
  BlobStore,
  type BlobStoreOptions,
  type Collected,
  sha256Hex,
  type StagedBlob,
} from "./blob_store.ts";
export { ChangeFeed, type ChangeFeedOptions } from "./change_feed.ts";
export { sha256HexNow } from "./sha256_hex_now.ts";
export { chunkedBody } from "./chunked_body.ts";
export { encodeUtf8 } from "./encode_utf8.ts";
export { abortableSleep } from "./abortable_sleep.ts";
export { SameKeys } from "./same_keys.ts";
export { deletePrefixes } from "./delete_prefixes.ts";
export {
  ASSUMED_FD_LIMIT,
  type FdLimit,
  fdLimit,
  maxConnectionsFor,
} from "./fd_limit.ts";
export {
  type ConnectionLimits,
  type ConnectionStats,
  DEFAULT_CONNECTION_TIMEOUTS,
  type GuardedServer,
  type GuardedServerOptions,
  serveGuarded,
} from "./guarded_server.ts";
export {
  type DeadLetter,
  type DelayedEntry,
  DurableQueue,
  type DurableQueueOptions,
  MAX_ITEM_BYTES,
  type QueuedItem,
  type QueueStats,
} from "./durable_queue.ts";
export {
  type Gate,
  type GateCount,
  type GatedPick,
  type GateHold,
  type HeldGate,
  listGates,
  MAX_GATE_NAME,
} from "./queue_gates.ts";
export {
  DEFAULT_AGING_MS,
  isPriority,
  PRIORITIES,
  type Priority,
} from "./queue_priority.ts";
export { GroupCommit, type GroupCommitOptions } from "./group_commit.ts";
export { ReadBatcher, type ReadBatcherOptions } from "./read_batcher.ts";
export { KvLease, type KvLeaseOptions, type LeaseValue } from "./kv_lease.ts";
export {
  ConflictError,
  DomainError,
  type ErrorKind,
  ForbiddenError,
  NotFoundError,
  TooLargeError,
  TooManyError,
  UnauthenticatedError,
  UnresolvedError,
  ValidationError,
} from "./domain_error.ts";
export {
  PROBLEM_STATUS,
  problemBody,
  problemResponse,
  problemStatus,
} from "./problem.ts";
export {
  jsonLogger,
  type JsonLoggerOptions,
  type Logger,
  type LogLevel,
  silentLogger,
} from "./logger.ts";
export {
  MemoryLimitError,
  MeterError,
  meterFuel,
  type MeterOptions,
} from "./fuel_meter.ts";
export { kvKeySize } from "./kv_key_size.ts";
export { KV_LIMITS, type KvLimits } from "./kv_limits.ts";
export { kvValueSize } from "./kv_value_size.ts";
export { jsonRecords, type RecordCodec, v8Records } from "./record_codec.ts";
export { ModuleCache } from "./module_cache.ts";
export { monotonicId, monotonicIdFactory } from "./monotonic_id.ts";
export { openKv, openKvAt, type OpenKvOptions } from "./open_kv.ts";
export { openPgKv, PgKv, type PgKvOptions } from "./pg/pg_kv.ts";
export {
  ensurePrivateDir,
  ensurePrivateFile,
  keepPrivateFile,
  type PrivateDirOptions,
  writePrivateFile,
} from "./private_dir.ts";
export {
  ACCESS_LOGS,
  type AccessLog,
  connectionLimits,
  onShutdownSignal,
  type RunningServer,
  serve,
  type ServeOptions,
  serviceApp,
  type ServiceAppOptions,
} from "./service.ts";
export { sseResponse, type SseResponseOptions } from "./sse.ts";
export {
  formatSecretKey,
  newSecretKey,
  parseSecretKey,
  SealError,
  SecretBox,
} from "./secret_box.ts";
export {
  STORE_RETRY_AFTER_S,
  storeFailure,
  type StoreFailureReason,
  StoreUnavailableError,
} from "./store_error.ts";
export { StoreHealth, type StoreHealthOptions } from "./store_health.ts";
export {
  DEFAULT_SSE_BUFFER_BYTES,
  SseChannel,
  type SseChannelOptions,
  SseCutError,
  type SseEnd,
} from "./sse_channel.ts";
export { encodeSse, formatSse, type SseMessage } from "./sse_message.ts";
export { HOST_SIGNATURES, mismatchedImports } from "./import_signatures.ts";
export {
  formatImportList,
  type GuestLog,
  type GuestLogSource,
  type GuestOutcome,
  GuestSetupError,
  unprovidedImports,
  WasmGuest,
  type WasmGuestOptions,
} from "./wasm_guest.ts";
export {
  type BatchResult,
  type CallResult,
  type PoolCall,
  type PoolResult,
  WasmPool,
  type WasmPoolOptions,
} from "./wasm_pool.ts";
export { withDefaults } from "./with_defaults.ts";
export { collectedKey, KvLimitError, WriteBatch } from "./write_batch.ts";
export { WritePacker } from "./write_packer.ts";
