/**
 * The playground's static server (scripts/serve-playground.mjs) over raw HTTP: the Host check
 * against DNS rebinding, the framing and sniffing headers, and path traversal. Requests are
 * written byte for byte on a socket, so nothing (fetch's URL normalisation, the client's own
 * Host header) changes what reaches the server.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
// @ts-expect-error: a plain ES module without type declarations
import { allowedHosts, servePlayground } from "../scripts/serve-playground.mjs";

interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Sends `head` (request line and headers, CRLF-separated, without the final blank line) and reads the answer. */
function raw(port: number, head: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      const [statusLine, ...lines] = text.slice(0, split).split("\r\n");
      const headers = new Map<string, string>();
      for (const line of lines) {
        const colon = line.indexOf(":");
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      const body = text.slice(split + 4);
      const chunked = headers.get("transfer-encoding") === "chunked";
      resolve({ status: Number(statusLine!.split(" ")[1]), headers, body: chunked ? dechunk(body) : body });
    });
    // Not end(): a half-closed socket may lose a streamed answer; `Connection: close` ends it.
    socket.write(`${head}\r\nConnection: close\r\n\r\n`);
  });
}

/** The payload of a chunked body (RFC 9112 §7.1), without trailers. */
function dechunk(body: string): string {
  let out = "";
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf("\r\n", at);
    const size = Number.parseInt(body.slice(at, lineEnd), 16);
    if (!(size > 0)) return out;
    out += body.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
}

describe("playground static server: Host check, headers, traversal", () => {
  let base: string;
  let root: string;
  let port: number;
  let close: () => Promise<void>;

  before(async () => {
    base = mkdtempSync(join(tmpdir(), "trapline-serve-hardening-"));
    root = join(base, "site");
    mkdirSync(join(root, "timeline"), { recursive: true });
    writeFileSync(join(root, "index.html"), "<!doctype html><title>playground</title>");
    writeFileSync(join(root, "timeline", "index.html"), "<!doctype html><title>panel</title>");
    writeFileSync(join(root, "main.js"), "console.log(1)");
    // Outside the served folder: one beside it, one in a sibling whose name starts like it.
    writeFileSync(join(base, "secret.txt"), "SECRET-OUTSIDE");
    mkdirSync(join(base, "site-other"));
    writeFileSync(join(base, "site-other", "secret.txt"), "SECRET-SIBLING");
    const started = await servePlayground({ dir: root, port: 0 });
    port = Number(new URL(started.url).port);
    close = () => new Promise<void>((resolve) => started.server.close(() => resolve()));
  });
  after(async () => {
    await close();
    rmSync(base, { recursive: true, force: true });
  });

  const get = (path: string, host = `127.0.0.1:${port}`): Promise<RawResponse> =>
    raw(port, `GET ${path} HTTP/1.1\r\nHost: ${host}`);

  it("answers the loopback names with the listening port, in any case", async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LocalHost:${port}`, `[::1]:${port}`]) {
      const response = await get("/", host);
      assert.equal(response.status, 200, host);
      assert.match(response.body, /<title>playground<\/title>/, host);
    }
  });

  it("refuses any other Host with 421 and a one-line body (DNS rebinding)", async () => {
    const refused = [
      `rebind.attacker.example:${port}`, // a name an attacker resolves to 127.0.0.1
      "localhost", // the right name on the wrong (default) port
      `localhost:${port + 1}`,
      `127.0.0.2:${port}`,
      `127.0.0.1.attacker.example:${port}`,
      `localhost:${port}.attacker.example`,
      `0.0.0.0:${port}`,
    ];
    for (const host of refused) {
      const response = await get("/", host);
      assert.equal(response.status, 421, host);
      assert.equal(response.headers.get("x-content-type-options"), "nosniff", host);
      assert.match(response.headers.get("content-type") ?? "", /^text\/plain/, host);
      assert.doesNotMatch(response.body, /playground<\/title>/, host);
      assert.equal(response.body.trimEnd().split("\n").length, 1, `${host}: ${response.body}`);
      assert.match(response.body, new RegExp(`^misdirected request: .*127\\.0\\.0\\.1:${port}`), host);
    }
    // The check comes before the method and the path: nothing is revealed to another Host.
    assert.equal((await raw(port, `POST / HTTP/1.1\r\nHost: evil.example:${port}`)).status, 421);
    assert.equal((await get("/missing.js", `evil.example:${port}`)).status, 421);
    // HTTP/1.0 may omit Host; the server then cannot tell who asked, so it refuses.
    assert.equal((await raw(port, "GET / HTTP/1.0")).status, 421);
  });

  it("lists the allowed Host values for the listening address", () => {
    assert.deepEqual([...allowedHosts("127.0.0.1", 8080)].sort(), [
      "127.0.0.1:8080",
      "[::1]:8080",
      "localhost:8080",
    ]);
    assert.ok(allowedHosts("::1", 9000).has("[::1]:9000"));
    // Only port 80 may be implied.
    assert.ok(allowedHosts("127.0.0.1", 80).has("localhost"));
    assert.ok(!allowedHosts("127.0.0.1", 8080).has("localhost"));
  });

  it("sends frame-ancestors 'self' and X-Frame-Options on HTML pages, nosniff on everything", async () => {
    for (const path of ["/", "/index.html", "/timeline/index.html", "/timeline/"]) {
      const response = await get(path);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get("content-security-policy"), "frame-ancestors 'self'", path);
      assert.equal(response.headers.get("x-frame-options"), "SAMEORIGIN", path);
      assert.equal(response.headers.get("x-content-type-options"), "nosniff", path);
    }
    const script = await get("/main.js");
    assert.equal(script.status, 200);
    assert.match(script.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.equal(script.headers.get("x-content-type-options"), "nosniff");
    assert.equal(
      script.headers.get("content-security-policy"),
      undefined,
      "frame-ancestors is for documents",
    );
    for (const response of [
      await get("/missing.js"),
      await raw(port, `POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}`),
    ]) {
      assert.ok(response.status === 404 || response.status === 405, String(response.status));
      assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    }
  });

  it("never serves a file outside the folder, however the path is spelled", async () => {
    const attempts = [
      "/../secret.txt",
      "/timeline/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/%2E%2E/secret.txt",
      "/..%2fsecret.txt",
      "/%2e%2e%2fsecret.txt",
      "/timeline/%2e%2e%2f%2e%2e%2fsecret.txt",
      "/..%5csecret.txt",
      "/../site-other/secret.txt",
      "/%2e%2e/site-other/secret.txt",
      `/${"../".repeat(20)}etc/passwd`,
      "//etc/passwd",
      "/%00/../secret.txt",
      "/index.html%00.js",
      "/%E0%A4%A",
      `http://127.0.0.1:${port}/../secret.txt`,
    ];
    for (const path of attempts) {
      const response = await get(path);
      assert.equal(response.status, 404, `${path}: ${response.status}`);
      assert.doesNotMatch(response.body, /SECRET|root:/, path);
    }
  });
});
