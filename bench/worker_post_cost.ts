/**
 * What `postMessage` to a Worker costs the sending thread, by whether the
 * Worker is waiting for a message (the runtime then wakes its thread) or
 * still busy with earlier ones: a small message posted alone and then
 * answered, against the same message posted ten at a time.
 *
 *   deno run -A bench/worker_post_cost.ts [messages per case, default 3000]
 *
 * The executor's sandbox pool posts one message per batch of calls to a
 * waiting Worker; what the wake costs here is a floor under each batch.
 */

const ECHO = "self.onmessage = (e) => self.postMessage(e.data);";

/** µs of the sender's time per `postMessage`, posting `burst` at a time. */
export async function postCost(
  worker: Worker,
  burst: number,
  messages: number,
): Promise<number> {
  let answered = 0;
  let wake: () => void = () => {};
  worker.onmessage = () => {
    answered++;
    wake();
  };
  let posting = 0;
  for (let sent = 0; sent < messages; sent += burst) {
    const t = performance.now();
    for (let j = 0; j < burst; j++) worker.postMessage({ id: sent + j });
    posting += performance.now() - t;
    while (answered < sent + burst) {
      await new Promise<void>((r) => wake = r);
    }
  }
  return Math.round(posting * 10_000 / messages) / 10;
}

if (import.meta.main) {
  const messages = Number(Deno.args[0] ?? 3000);
  const url = `data:application/javascript,${encodeURIComponent(ECHO)}`;
  const worker = new Worker(url, { type: "module" });
  try {
    console.log("| posted | µs per postMessage, round 1 | round 2 |");
    console.log("| --- | ---: | ---: |");
    for (const burst of [1, 10]) {
      const a = await postCost(worker, burst, messages);
      const b = await postCost(worker, burst, messages);
      const what = burst === 1
        ? "one at a time (the Worker waits: woken each time)"
        : "ten at a time (the Worker busy with the first)";
      console.log(`| ${what} | ${a} | ${b} |`);
    }
  } finally {
    worker.terminate();
  }
}
