import assert from "node:assert/strict";
import { testPlatform } from "../server/_test_platform.ts";
import { DOCS_VIEWER } from "./openapi_routes.ts";

Deno.test("/docs: the viewer is one pinned version checked by its sha-384, under a CSP that runs only it and the page's nonced script", async () => {
  const p = await testPlatform();
  try {
    const res = await p.app.request("/docs");
    assert.equal(res.status, 200);
    const html = await res.text();
    const csp = res.headers.get("content-security-policy") ?? "";
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    // Every script carries the nonce that the policy names, and only the
    // pinned viewer comes from elsewhere, with its integrity.
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce, csp);
    for (const tag of scripts) assert.ok(tag.includes(`nonce="${nonce}"`), tag);
    const external = scripts.filter((t) => /\ssrc=/.test(t));
    assert.equal(external.length, 1, external.join("\n"));
    assert.match(external[0], /@scalar\/api-reference@\d+\.\d+\.\d+\//);
    assert.ok(external[0].includes(`src="${DOCS_VIEWER.url}"`));
    assert.ok(
      external[0].includes(`integrity="${DOCS_VIEWER.integrity}"`),
      external[0],
    );
    assert.match(DOCS_VIEWER.integrity, /^sha384-[A-Za-z0-9+/]{64}$/);
    assert.ok(external[0].includes('crossorigin="anonymous"'));
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /connect-src 'self'/);
    assert.ok(csp.includes(`script-src 'nonce-${nonce}' ${DOCS_VIEWER.url}`));
    // Attack: no unpinned copy of the viewer, no font host.
    assert.ok(
      !/api-reference["'@\/]?(?!@\d)/.test(html.replace(DOCS_VIEWER.url, "")),
    );
    assert.ok(!html.includes("fonts.scalar.com"));
    // A nonce is drawn per request.
    const again = await p.app.request("/docs");
    await again.body?.cancel();
    assert.notEqual(again.headers.get("content-security-policy"), csp);
  } finally {
    await p.close();
  }
});
