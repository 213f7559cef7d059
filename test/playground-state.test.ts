/**
 * The playground's page-independent parts, in Node: the `#src=` link encoding, which text the
 * page opens with, the example list against examples/, the LSP extension names against the
 * server's, and the static server's path handling.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { exampleSummary } from "../playground/src/exampleSummary";
import {
  decodeSource,
  encodeSource,
  exampleWithText,
  hashForSource,
  initialSource,
  parseHash,
  SourceDecodeError,
  STORAGE_KEY,
  storeTarget,
  TARGET_STORAGE_KEY,
} from "../playground/src/state";
import { SHOW_ESTIMATE_COMMAND } from "../protocol/lsp";
// @ts-expect-error: a plain ES module without type declarations
import { resolveStaticPath, servePlayground } from "../scripts/serve-playground.mjs";
import { REPO_ROOT } from "./support/artifacts";

/** A Storage backed by a Map (Node has no localStorage). */
function memoryStorage(entries: Record<string, string> = {}): Storage {
  const map = new Map(Object.entries(entries));
  return {
    get length() {
      return map.size;
    },
    clear: () => map.clear(),
    getItem: (key) => map.get(key) ?? null,
    key: (index) => [...map.keys()][index] ?? null,
    removeItem: (key) => void map.delete(key),
    setItem: (key, value) => void map.set(key, String(value)),
  };
}

describe("#src= encoding", () => {
  it("round-trips ASCII, non-ASCII and astral text through base64url", () => {
    for (const text of [
      "",
      "a",
      "vmcs kvm { pin nmi_exiting }\n",
      "// kvm-default.vmcs — em dash, µs, “quotes”\n",
      "guest 🙂 on kvm {}\r\n\ttab",
    ]) {
      const encoded = encodeSource(text);
      assert.match(encoded, /^[A-Za-z0-9_-]*$/, "base64url alphabet, no padding");
      assert.equal(decodeSource(encoded), text);
    }
  });

  it("encodes UTF-8 bytes as RFC 4648 base64url (known vectors)", () => {
    // "—" is E2 80 94 in UTF-8; base64 "4oCU".
    assert.equal(encodeSource("—"), "4oCU");
    // Bytes whose standard base64 has '/' and '+': "?>?" is "Pz4/", "~~~" is "fn5+".
    assert.equal(encodeSource("?>?"), "Pz4_");
    assert.equal(encodeSource("~~~"), "fn5-");
  });

  it("round-trips a large file without overflowing the call stack", () => {
    const text = "path p rate 1k/s { compute 1us cpuid }\n".repeat(20_000);
    assert.equal(decodeSource(encodeSource(text)), text);
  });

  it("accepts standard base64 with padding", () => {
    assert.equal(decodeSource("Pz4/"), "?>?");
    assert.equal(decodeSource("YQ=="), "a");
  });

  it("rejects bad characters, impossible lengths and non-UTF-8 bytes with a reason", () => {
    assert.throws(() => decodeSource("abc$"), SourceDecodeError);
    assert.throws(() => decodeSource("abcde"), /truncated/);
    // 0xFF alone is not UTF-8.
    assert.throws(() => decodeSource("_w"), /UTF-8/);
  });
});

describe("parseHash", () => {
  it("reads #src=, #example= and nothing", () => {
    assert.deepEqual(parseHash(hashForSource("vmcs a {}")), { kind: "source", text: "vmcs a {}" });
    assert.deepEqual(parseHash("#example=ple.vmcs"), { kind: "example", name: "ple.vmcs" });
    assert.deepEqual(parseHash(""), { kind: "none" });
    assert.deepEqual(parseHash("#"), { kind: "none" });
  });

  it("keeps '+' of standard base64 that URLSearchParams would turn into a space", () => {
    // ">>>" is "Pj4+" in standard base64.
    assert.deepEqual(parseHash("#src=Pj4+"), { kind: "source", text: ">>>" });
  });

  it("reports a broken link instead of throwing", () => {
    const result = parseHash("#src=%%%");
    assert.equal(result.kind, "invalid");
  });

  it("carries the default target CPU as &target=, and drops one that is not a profile name", () => {
    assert.equal(hashForSource("vmcs a {}", "nehalem"), `${hashForSource("vmcs a {}")}&target=nehalem`);
    assert.equal(hashForSource("vmcs a {}", undefined), hashForSource("vmcs a {}"));
    assert.deepEqual(parseHash(hashForSource("vmcs a {}", "nehalem")), {
      kind: "source",
      text: "vmcs a {}",
      target: "nehalem",
    });
    assert.deepEqual(parseHash("#example=ple.vmcs&target=haswell"), {
      kind: "example",
      name: "ple.vmcs",
      target: "haswell",
    });
    assert.deepEqual(parseHash(`${hashForSource("x")}&target=%3Cb%3E`), { kind: "source", text: "x" });
    assert.equal(hashForSource("x", "<b>"), hashForSource("x"));
  });
});

describe("initialSource", () => {
  const examples = new Map([
    ["a.vmcs", "vmcs a {}\n"],
    ["b.vmcs", "vmcs b {}\n"],
  ]);

  it("prefers the link's text, and names the example it equals", () => {
    const storage = memoryStorage({ [STORAGE_KEY]: "stored" });
    assert.deepEqual(initialSource(hashForSource("vmcs b {}\n"), storage, examples, "a.vmcs"), {
      text: "vmcs b {}\n",
      example: "b.vmcs",
    });
    assert.deepEqual(initialSource(hashForSource("edited"), storage, examples, "a.vmcs"), { text: "edited" });
  });

  it("opens a named example, then local storage, then the default", () => {
    const storage = memoryStorage({ [STORAGE_KEY]: "stored" });
    assert.deepEqual(initialSource("#example=b.vmcs", storage, examples, "a.vmcs"), {
      text: "vmcs b {}\n",
      example: "b.vmcs",
    });
    assert.deepEqual(initialSource("", storage, examples, "a.vmcs"), { text: "stored" });
    assert.deepEqual(initialSource("", memoryStorage(), examples, "a.vmcs"), {
      text: "vmcs a {}\n",
      example: "a.vmcs",
    });
    assert.deepEqual(initialSource("", undefined, examples, "a.vmcs"), {
      text: "vmcs a {}\n",
      example: "a.vmcs",
    });
  });

  it("falls back with the reason when the link is broken or names no example", () => {
    const broken = initialSource("#src=***", memoryStorage({ [STORAGE_KEY]: "stored" }), examples, "a.vmcs");
    assert.equal(broken.text, "stored");
    assert.match(broken.invalid ?? "", /base64url/);
    const unknown = initialSource("#example=zzz.vmcs", memoryStorage(), examples, "a.vmcs");
    assert.equal(unknown.text, "vmcs a {}\n");
    assert.match(unknown.invalid ?? "", /no example named zzz\.vmcs/);
  });

  it("takes the default target with the text: the link's with a link, the stored one with the stored text", () => {
    const storage = memoryStorage({ [STORAGE_KEY]: "stored", [TARGET_STORAGE_KEY]: "westmere" });
    assert.deepEqual(initialSource(hashForSource("edited", "nehalem"), storage, examples, "a.vmcs"), {
      text: "edited",
      target: "nehalem",
    });
    // A link without &target= is what its sender saw with the documented default.
    assert.deepEqual(initialSource(hashForSource("edited"), storage, examples, "a.vmcs"), { text: "edited" });
    assert.deepEqual(initialSource("#example=b.vmcs&target=haswell", storage, examples, "a.vmcs"), {
      text: "vmcs b {}\n",
      example: "b.vmcs",
      target: "haswell",
    });
    assert.deepEqual(initialSource("", storage, examples, "a.vmcs"), { text: "stored", target: "westmere" });
    storeTarget(storage, undefined);
    assert.equal(storage.getItem(TARGET_STORAGE_KEY), null);
    assert.deepEqual(initialSource("", storage, examples, "a.vmcs"), { text: "stored" });
  });

  it("survives a storage that throws", () => {
    const hostile = memoryStorage();
    hostile.getItem = () => {
      throw new Error("SecurityError");
    };
    assert.deepEqual(initialSource("", hostile, examples, "a.vmcs"), {
      text: "vmcs a {}\n",
      example: "a.vmcs",
    });
  });
});

describe("exampleWithText (the example picker after an edit)", () => {
  /** The files of examples/, as the playground bundles them. */
  const bundled: ReadonlyMap<string, string> = new Map(
    readdirSync(join(REPO_ROOT, "examples"))
      .filter((name) => name.endsWith(".vmcs"))
      .sort()
      .map((name) => [name, readFileSync(join(REPO_ROOT, "examples", name), "utf8")]),
  );
  const match = (text: string, preferred?: string) =>
    exampleWithText(bundled, text.length, () => text, preferred);

  it("names every example for its own text, and nothing for an edit of it", () => {
    assert.ok(bundled.size >= 5);
    for (const [name, text] of bundled) {
      assert.equal(match(text), name);
      assert.equal(match(`${text}x`), undefined, `${name} with a character typed at the end`);
      assert.equal(match(text.slice(1)), undefined, `${name} with its first character deleted`);
    }
  });

  it("an edit then the reverse edit is the example again", () => {
    const name = "kvm-default.vmcs";
    const original = bundled.get(name)!;
    const at = original.indexOf("\n") + 1;
    // Type "x" at the start of line 2, the picker's "(your edits)"; delete it, the example again.
    const typed = `${original.slice(0, at)}x${original.slice(at)}`;
    assert.equal(match(typed, name), undefined);
    const undone = typed.slice(0, at) + typed.slice(at + 1);
    assert.equal(match(undone), name);
    // Lines deleted and pasted back.
    const lines = original.split("\n");
    const cut = [...lines.slice(0, 3), ...lines.slice(6)].join("\n");
    assert.equal(match(cut, name), undefined);
    const pasted = cut.split("\n");
    pasted.splice(3, 0, ...lines.slice(3, 6));
    assert.equal(match(pasted.join("\n")), name);
  });

  it("a different text of the same length is not the example", () => {
    for (const [name, text] of bundled) {
      // One character replaced by another: same length, different text.
      const i = Math.floor(text.length / 2);
      const replaced = text.slice(0, i) + (text[i] === "#" ? "@" : "#") + text.slice(i + 1);
      assert.equal(replaced.length, text.length);
      let reads = 0;
      assert.equal(
        exampleWithText(
          bundled,
          replaced.length,
          () => {
            reads++;
            return replaced;
          },
          name,
        ),
        undefined,
        name,
      );
      assert.equal(reads, 1, "the text is compared because the length matches");
    }
  });

  it("reads the text only when an example has its length, and then once", () => {
    const examples = new Map([
      ["a.vmcs", "vmcs a {}\n"],
      ["b.vmcs", "vmcs b {}\n"],
      ["long.vmcs", "vmcs long {}\n"],
    ]);
    let reads = 0;
    const reader = (text: string) => () => {
      reads++;
      return text;
    };
    const large = "path p rate 1k/s { compute 1us cpuid }\n".repeat(10_000);
    assert.equal(exampleWithText(examples, large.length, reader(large), "a.vmcs"), undefined);
    assert.equal(exampleWithText(examples, 0, reader(""), "a.vmcs"), undefined);
    assert.equal(reads, 0, "no example has those lengths: the text is never built");
    assert.equal(exampleWithText(examples, 10, reader("vmcs b {}\n")), "b.vmcs");
    assert.equal(reads, 1, "two examples of that length, one read");
    assert.equal(exampleWithText(new Map(), 10, reader("vmcs b {}\n")), undefined);
    assert.equal(reads, 1);
  });

  it("keeps the shown example among identical ones, else takes the first", () => {
    const examples = new Map([
      ["a.vmcs", "same\n"],
      ["b.vmcs", "same\n"],
    ]);
    assert.equal(
      exampleWithText(examples, 5, () => "same\n"),
      "a.vmcs",
    );
    assert.equal(
      exampleWithText(examples, 5, () => "same\n", "b.vmcs"),
      "b.vmcs",
    );
    assert.equal(
      exampleWithText(examples, 5, () => "same\n", "gone.vmcs"),
      "a.vmcs",
    );
  });
});

describe("examples and protocol names", () => {
  it("bundles exactly the files of examples/", () => {
    const source = readFileSync(join(REPO_ROOT, "playground", "src", "examples.ts"), "utf8");
    const imported = [...source.matchAll(/from "\.\.\/\.\.\/examples\/([^"]+)"/g)].map((m) => m[1]);
    const listed = [...source.matchAll(/\["([^"]+\.vmcs)", /g)].map((m) => m[1]);
    const files = readdirSync(join(REPO_ROOT, "examples"))
      .filter((name) => name.endsWith(".vmcs"))
      .sort();
    assert.deepEqual([...imported].sort(), files, "playground/src/examples.ts imports every example");
    assert.deepEqual(listed, files, "and lists each one, alphabetically");
    const defaultName = /DEFAULT_EXAMPLE = "([^"]+)"/.exec(source)?.[1];
    assert.ok(defaultName && files.includes(defaultName), `default example ${defaultName} exists`);
  });

  it("summarises an example from its leading comment", () => {
    const text = readFileSync(join(REPO_ROOT, "examples", "kvm-default.vmcs"), "utf8");
    const summary = exampleSummary(text);
    assert.match(summary, /^a KVM-like VMCS on a Skylake server/);
    assert.ok(!summary.includes("//"));
    assert.equal(exampleSummary("vmcs a {}"), "");
  });

  it("names the cost lenses' command as the protocol does", () => {
    // The page and the server take the method names from protocol/lsp.ts; the cost lenses'
    // command is spelled out in the lens code.
    const decorations = readFileSync(join(REPO_ROOT, "server", "src", "features", "decorations.ts"), "utf8");
    assert.ok(decorations.includes(`command: "${SHOW_ESTIMATE_COMMAND}"`));
  });
});

describe("static server", () => {
  let root: string;
  let close: () => Promise<void>;
  let url: string;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "trapline-serve-"));
    writeFileSync(join(root, "index.html"), "<!doctype html><title>t</title>");
    writeFileSync(join(root, "main.js"), "console.log(1)");
    const started = await servePlayground({ dir: root, port: 0 });
    url = started.url;
    close = () => new Promise<void>((resolve) => started.server.close(() => resolve()));
  });
  after(async () => {
    await close();
    rmSync(root, { recursive: true, force: true });
  });

  function get(path: string, method = "GET"): Promise<{ status: number; type: string; body: string }> {
    return new Promise((resolve, reject) => {
      // A raw path: `fetch` would normalise `..` away before sending it.
      const req = request(`${url.replace(/\/$/, "")}${path}`, { method }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          body += chunk;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }),
        );
      });
      req.on("error", reject);
      req.end();
    });
  }

  it("listens on 127.0.0.1 and serves index.html for /", async () => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const index = await get("/");
    assert.equal(index.status, 200);
    assert.match(index.type, /^text\/html/);
    const script = await get("/main.js?v=1");
    assert.equal(script.status, 200);
    assert.match(script.type, /^text\/javascript/);
  });

  it("answers 404 outside the folder and for missing files, 405 for other methods", async () => {
    assert.equal((await get("/../package.json")).status, 404);
    assert.equal((await get("/%2e%2e/%2e%2e/etc/passwd")).status, 404);
    assert.equal((await get("/missing.js")).status, 404);
    assert.equal((await get("/", "POST")).status, 405);
  });

  it("resolves paths inside the root only", () => {
    assert.equal(resolveStaticPath(root, "/"), join(root, "index.html"));
    assert.equal(resolveStaticPath(root, "/../x"), undefined);
    assert.equal(resolveStaticPath(root, "/%00"), undefined);
    assert.equal(resolveStaticPath(root, "/%E0%A4%A"), undefined, "malformed escapes");
  });
});
