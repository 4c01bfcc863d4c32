/**
 * What building one request's accepting write costs (components/listener/
 * accept_write.ts), and its parts, for a single item as the platform's
 * queue stores it (JSON records, priority bands): the write batch's
 * measures, the record's encoding, the queue's shared writes, the pin.
 *
 *   deno bench -A bench/accept_write_bench.ts
 */
import { DurableQueue, jsonRecords, WriteBatch } from "@jobico/goico";
import { acceptWrite } from "../components/listener/accept_write.ts";
import type { EventItem } from "../components/model/event_item.ts";
import { keys } from "../components/model/keys.ts";
import { PinDeltas } from "../components/packages/version_pins.ts";

const kv = await Deno.openKv(":memory:");
const queue = new DurableQueue<EventItem>(kv, keys.queues(), {
  codec: jsonRecords,
  priorityOf: (item) => item.priority,
});
const value: EventItem = {
  tenant: "bench",
  package: "bench",
  version: 3,
  event: "ping",
  eventId: "0mx7xl46b0000mfsbf4",
  data: { n: 1, name: "Ada" },
};
let n = 0;
const item = () => {
  const id = `0mx7xl46b${(++n).toString(36).padStart(10, "0")}`;
  return [{ id, value: { ...value, eventId: id } }];
};

Deno.bench("acceptWrite, 1 item", { baseline: true }, () => {
  acceptWrite({ kv, queue, queueName: "bench/ping", items: item() });
});
Deno.bench("queue.append alone, 1 item", () => {
  queue.append(new WriteBatch(kv), "bench/ping", item());
});
Deno.bench("PinDeltas alone", () => {
  new PinDeltas().add(value, 1).write(new WriteBatch(kv));
});
Deno.bench("WriteBatch.set of a 250-byte record", () => {
  new WriteBatch(kv).set(
    ["q", "ready", "bench/ping", item()[0].id],
    new Uint8Array(250),
  );
});
Deno.bench("jsonRecords.encode of a queued item", () => {
  jsonRecords.encode({
    id: "x",
    queue: "bench/ping",
    value,
    attempt: 1,
    failures: 0,
    enqueuedAt: Date.now(),
  });
});
Deno.bench("10 parts merged into a group (GroupCommit's take)", () => {
  const group = new WriteBatch(kv);
  for (let i = 0; i < 10; i++) {
    group.add(
      acceptWrite({ kv, queue, queueName: "bench/ping", items: item() }),
    );
  }
});
