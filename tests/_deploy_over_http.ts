/** Uploads the greet example and deploys it to a platform at `url`, over plain HTTP. */
export async function deployGreetOver(
  url: string,
  headers: Record<string, string> = {},
): Promise<void> {
  const dir = new URL("../examples/greet/", import.meta.url);
  for (
    const name of [
      "greet.wasm",
      "audit.wasm",
      "greet.schema.json",
      "result.schema.json",
    ]
  ) {
    const res = await fetch(`${url}/api/v1/tenants/demo/files/${name}`, {
      method: "PUT",
      headers,
      body: await Deno.readFile(new URL(name, dir)),
    });
    if (res.status !== 201) {
      throw new Error(`Uploading ${name}: ${res.status} ${await res.text()}`);
    }
  }
  const res = await fetch(`${url}/api/v1/packages`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/yaml" },
    body: await Deno.readTextFile(new URL("job.yaml", dir)),
  });
  if (res.status !== 201) {
    throw new Error(`Deploying: ${res.status} ${await res.text()}`);
  }
}
