// Serves the built playground (playground-dist/) on the loopback interface with node:http.
//
//   node scripts/serve-playground.mjs            port from $PORT, else 8080
//   node scripts/serve-playground.mjs --dir D    serve another folder
//
// `npm start` builds first, then runs this. The playground is static files only; any static
// host serves playground-dist/ just as well (docs/playground.md). Prints exactly one line,
// `Trapline playground: http://127.0.0.1:PORT/`, once it is listening (PORT=0 picks a free port,
// which the line then reports: the browser tests rely on that).
//
// Security (docs/playground.md, "Security"): only requests whose Host header names this server
// on a loopback name (127.0.0.1, localhost, [::1], with its port) are answered, others get 421,
// which stops DNS rebinding (a site whose name resolves to 127.0.0.1 reading the playground);
// HTML pages carry `Content-Security-Policy: frame-ancestors 'self'` and `X-Frame-Options:
// SAMEORIGIN` (a <meta> CSP cannot say frame-ancestors, CSP Level 3 §6.4.2), so no other site
// can frame them; every response carries `X-Content-Type-Options: nosniff`.
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");

const CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".ttf": "font/ttf",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".vmcs": "text/plain; charset=utf-8",
};

/** Host names the server answers to besides the address it listens on (all loopback). */
const LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"];

/** Headers of every response: no MIME sniffing, so a text/plain error is never run as HTML or script. */
const COMMON_HEADERS = { "X-Content-Type-Options": "nosniff" };

/** Headers of HTML pages: only pages of this origin may frame them (the playground frames its panel). */
const HTML_HEADERS = {
  "Content-Security-Policy": "frame-ancestors 'self'",
  "X-Frame-Options": "SAMEORIGIN",
};

/**
 * The `host:port` values (lower case) a request's Host header may hold for a server listening
 * on `host`:`port`. Port 80 may also be left out (RFC 9110 §7.2: the default port).
 */
export function allowedHosts(host, port) {
  const listenName = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const names = new Set([...LOOPBACK_NAMES, listenName.toLowerCase()]);
  const allowed = new Set();
  for (const name of names) {
    allowed.add(`${name}:${port}`);
    if (port === 80) allowed.add(name);
  }
  return allowed;
}

function send(response, status, body, headers = {}) {
  response.writeHead(status, { ...COMMON_HEADERS, "Content-Type": "text/plain; charset=utf-8", ...headers });
  response.end(body);
}

/**
 * Resolves a request path inside `root`, or undefined when it would leave it (`..`, encoded
 * slashes, NUL) or is not a file. Directories resolve to their index.html.
 */
export function resolveStaticPath(root, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath.split("?")[0].split("#")[0]);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0")) return undefined;
  const candidate = normalize(join(root, decoded));
  if (candidate !== root && !candidate.startsWith(root + sep)) return undefined;
  if (!existsSync(candidate)) return undefined;
  const stats = statSync(candidate);
  if (stats.isDirectory()) {
    const index = join(candidate, "index.html");
    return existsSync(index) ? index : undefined;
  }
  return stats.isFile() ? candidate : undefined;
}

/** Starts the server; resolves with the node:http server and the URL it listens on. */
export function servePlayground({
  dir = join(repoRoot, "playground-dist"),
  port = 8080,
  host = "127.0.0.1",
} = {}) {
  const root = resolve(dir);
  if (!existsSync(join(root, "index.html"))) {
    throw new Error(`${root} has no index.html: run \`npm run build:playground\` first`);
  }
  // Filled in once listening: with PORT=0 the port is known only then.
  let allowed = new Set();
  const server = createServer((request, response) => {
    const hostHeader = (request.headers.host ?? "").toLowerCase();
    if (!allowed.has(hostHeader)) {
      send(
        response,
        421,
        `misdirected request: this server answers only to Host ${[...allowed].join(", ")}\n`,
      );
      return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      send(response, 405, "method not allowed\n", { Allow: "GET, HEAD" });
      return;
    }
    const file = resolveStaticPath(root, request.url ?? "/");
    if (!file) {
      send(response, 404, "not found\n");
      return;
    }
    const type = CONTENT_TYPES[extname(file)] ?? "application/octet-stream";
    const headers = {
      ...COMMON_HEADERS,
      ...(extname(file) === ".html" ? HTML_HEADERS : {}),
      "Content-Type": type,
      "Content-Length": statSync(file).size,
      // A local development server: always revalidate so a rebuild shows on reload.
      "Cache-Control": "no-cache",
    };
    response.writeHead(200, headers);
    if (request.method === "HEAD") {
      response.end();
      return;
    }
    const stream = createReadStream(file);
    stream.on("error", () => response.destroy());
    stream.pipe(response);
  });
  return new Promise((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address();
      allowed = allowedHosts(host, address.port);
      resolvePromise({ server, url: `http://${host}:${address.port}/` });
    });
  });
}

function parsePort(value) {
  if (value === undefined || value === "") return 8080;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve-playground: PORT must be an integer from 0 to 65535, not ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return port;
}

async function main(args) {
  let dir;
  try {
    const { values } = parseArgs({ args, options: { dir: { type: "string" } }, strict: true });
    if (values.dir !== undefined) dir = resolve(values.dir);
  } catch (error) {
    console.error(`serve-playground: ${error.message} (use --dir FOLDER; the port comes from $PORT)`);
    process.exit(2);
  }
  try {
    const { url } = await servePlayground({ ...(dir ? { dir } : {}), port: parsePort(process.env.PORT) });
    console.log(`Trapline playground: ${url}`);
  } catch (error) {
    const message =
      error?.code === "EADDRINUSE"
        ? `port ${process.env.PORT || 8080} is in use: set PORT to another port (PORT=0 picks a free one)`
        : (error?.message ?? String(error));
    console.error(`serve-playground: ${message}`);
    process.exit(1);
  }
}

// No top-level await: the tests import this module through tsx's CommonJS transform.
if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  void main(process.argv.slice(2));
}
