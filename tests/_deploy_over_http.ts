import { examples, GREET_FILES } from "../components/server/_test_platform.ts";

/** Uploads the greet example for tenant "demo" and deploys it, over plain HTTP through `api`. */
export async function deployGreetOver(
  api: (path: string, init: RequestInit) => Promise<Response>,
): Promise<void> {
  for (const name of GREET_FILES) {
    const res = await api(`/api/v1/tenants/demo/files/${name}`, {
      method: "PUT",
      body: await Deno.readFile(new URL(name, examples)),
    });
    if (res.status !== 201) {
      throw new Error(`Uploading ${name}: ${res.status} ${await res.text()}`);
    }
  }
  const res = await api("/api/v1/packages", {
    method: "POST",
    headers: { "content-type": "application/yaml" },
    body: await Deno.readTextFile(new URL("job.yaml", examples)),
  });
  if (res.status !== 201) {
    throw new Error(`Deploying: ${res.status} ${await res.text()}`);
  }
}
