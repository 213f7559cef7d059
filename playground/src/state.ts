/**
 * The playground's persistent state: the document text lives in the URL fragment as
 * `#src=<base64url of the UTF-8 text>` (so a copied link reproduces exactly what the sender saw)
 * and in local storage (so a reload without a fragment restores the last edit).
 *
 * No DOM here beyond the optional Storage argument: the encoding functions are unit-tested in
 * Node (test/playground-state.test.ts).
 */

export const SOURCE_PARAM = "src";
export const EXAMPLE_PARAM = "example";
export const STORAGE_KEY = "trapline.playground.source";

/** Encodes text as base64url (RFC 4648 §5, no padding) of its UTF-8 bytes. */
export function encodeSource(text: string): string {
  const bytes = new TextEncoder().encode(text);
  // btoa takes a binary string; build it in chunks so large files do not overflow the call stack.
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export class SourceDecodeError extends Error {}

/**
 * Decodes `encodeSource`'s output. Also accepts standard base64 and padding, since links get
 * hand-edited and re-encoded by chat tools. Throws SourceDecodeError with a readable reason on
 * anything else (bad characters, bytes that are not UTF-8).
 */
export function decodeSource(encoded: string): string {
  const cleaned = encoded.trim().replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  if (!/^[A-Za-z0-9+/]*$/.test(cleaned)) {
    throw new SourceDecodeError("the #src= value is not base64url (characters other than A-Z a-z 0-9 - _)");
  }
  if (cleaned.length % 4 === 1) {
    throw new SourceDecodeError("the #src= value is truncated (its length is not a valid base64 length)");
  }
  const padded = cleaned + "=".repeat((4 - (cleaned.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new SourceDecodeError("the #src= value does not decode to UTF-8 text");
  }
}

/** What the fragment asks for: a source text, an example by file name, or nothing. */
export type HashRequest =
  | { kind: "source"; text: string }
  | { kind: "example"; name: string }
  | { kind: "none" }
  | { kind: "invalid"; reason: string };

/** Parses `location.hash` (with or without the leading '#'). */
export function parseHash(hash: string): HashRequest {
  const params = new URLSearchParams(hash.startsWith("#") ? hash.slice(1) : hash);
  // URLSearchParams turns '+' into ' '; base64url has no '+', but a standard-base64 link might.
  const raw = params.get(SOURCE_PARAM);
  if (raw !== null) {
    try {
      return { kind: "source", text: decodeSource(raw.replace(/ /g, "+")) };
    } catch (error) {
      return { kind: "invalid", reason: error instanceof Error ? error.message : String(error) };
    }
  }
  const example = params.get(EXAMPLE_PARAM);
  if (example) return { kind: "example", name: example };
  return { kind: "none" };
}

/** The fragment for a text: `#src=…`. */
export function hashForSource(text: string): string {
  return `#${SOURCE_PARAM}=${encodeSource(text)}`;
}

/** Local storage that tolerates being unavailable (private mode, opaque origins, quota). */
export function loadStoredSource(storage: Storage | undefined): string | undefined {
  try {
    return storage?.getItem(STORAGE_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function storeSource(storage: Storage | undefined, text: string): void {
  try {
    storage?.setItem(STORAGE_KEY, text);
  } catch {
    // Quota exceeded or storage disabled: the URL still holds the text.
  }
}

/**
 * Which text to open with, in order: the link's `#src`, the link's `#example`, the last edit in
 * local storage, the default example. `invalid` carries the reason the link was rejected, so
 * the page can say so instead of silently showing something else.
 */
export function initialSource(
  hash: string,
  storage: Storage | undefined,
  examples: ReadonlyMap<string, string>,
  defaultExample: string,
): { text: string; example?: string; invalid?: string } {
  const request = parseHash(hash);
  if (request.kind === "source") return { text: request.text, ...matchingExample(request.text, examples) };
  let invalid: string | undefined;
  if (request.kind === "invalid") invalid = request.reason;
  if (request.kind === "example") {
    const text = examples.get(request.name);
    if (text !== undefined) return { text, example: request.name };
    invalid = `there is no example named ${request.name}`;
  }
  const stored = loadStoredSource(storage);
  const base = stored !== undefined ? { text: stored, ...matchingExample(stored, examples) } : defaultText();
  return invalid ? { ...base, invalid } : base;

  function defaultText(): { text: string; example?: string } {
    return { text: examples.get(defaultExample) ?? "", example: defaultExample };
  }
}

function matchingExample(text: string, examples: ReadonlyMap<string, string>): { example?: string } {
  for (const [name, exampleText] of examples) if (exampleText === text) return { example: name };
  return {};
}
