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
/**
 * The target CPU the playground analyses a file without a `target` line for (the extension's
 * `trapline.defaultTarget` setting): `&target=NAME` after the source in the link, and this key in
 * local storage. A file's own `target` line always wins over it.
 */
export const TARGET_PARAM = "target";
export const TARGET_STORAGE_KEY = "trapline.playground.defaultTarget";
/** What a profile name looks like (core/src/vmx/profiles.ts); anything else in a link is dropped. */
const PROFILE_NAME = /^[a-z][a-z0-9_]{0,63}$/;

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
  | { kind: "source"; text: string; target?: string }
  | { kind: "example"; name: string; target?: string }
  | { kind: "none" }
  | { kind: "invalid"; reason: string };

/** Parses `location.hash` (with or without the leading '#'). */
export function parseHash(hash: string): HashRequest {
  const params = new URLSearchParams(hash.startsWith("#") ? hash.slice(1) : hash);
  // URLSearchParams turns '+' into ' '; base64url has no '+', but a standard-base64 link might.
  const raw = params.get(SOURCE_PARAM);
  const targetParam = params.get(TARGET_PARAM);
  const target = targetParam !== null && PROFILE_NAME.test(targetParam) ? { target: targetParam } : {};
  if (raw !== null) {
    try {
      return { kind: "source", text: decodeSource(raw.replace(/ /g, "+")), ...target };
    } catch (error) {
      return { kind: "invalid", reason: error instanceof Error ? error.message : String(error) };
    }
  }
  const example = params.get(EXAMPLE_PARAM);
  if (example) return { kind: "example", name: example, ...target };
  return { kind: "none" };
}

/** The fragment for a text: `#src=…`, then `&target=NAME` when the page has a default target. */
export function hashForSource(text: string, target?: string): string {
  const suffix = target && PROFILE_NAME.test(target) ? `&${TARGET_PARAM}=${target}` : "";
  return `#${SOURCE_PARAM}=${encodeSource(text)}${suffix}`;
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

export function loadStoredTarget(storage: Storage | undefined): string | undefined {
  try {
    const stored = storage?.getItem(TARGET_STORAGE_KEY) ?? undefined;
    return stored !== undefined && PROFILE_NAME.test(stored) ? stored : undefined;
  } catch {
    return undefined;
  }
}

/** Stores the page's default target (`undefined`: the documented default, the key is removed). */
export function storeTarget(storage: Storage | undefined, target: string | undefined): void {
  try {
    if (target) storage?.setItem(TARGET_STORAGE_KEY, target);
    else storage?.removeItem(TARGET_STORAGE_KEY);
  } catch {
    // As for the source: the link still holds it.
  }
}

/**
 * Which text to open with, in order: the link's `#src`, the link's `#example`, the last edit in
 * local storage, the default example. `invalid` carries the reason the link was rejected, so
 * the page can say so instead of silently showing something else. `target` is the default target
 * CPU that travels with the text: the link's `&target=` with a link's text (a link without one
 * means the documented default, as its sender saw it), the stored one with the stored text.
 */
export function initialSource(
  hash: string,
  storage: Storage | undefined,
  examples: ReadonlyMap<string, string>,
  defaultExample: string,
): { text: string; example?: string; target?: string; invalid?: string } {
  const request = parseHash(hash);
  const linkTarget = "target" in request && request.target ? { target: request.target } : {};
  if (request.kind === "source")
    return { text: request.text, ...matchingExample(request.text, examples), ...linkTarget };
  let invalid: string | undefined;
  if (request.kind === "invalid") invalid = request.reason;
  if (request.kind === "example") {
    const text = examples.get(request.name);
    if (text !== undefined) return { text, example: request.name, ...linkTarget };
    invalid = `there is no example named ${request.name}`;
  }
  const stored = loadStoredSource(storage);
  const storedTarget = loadStoredTarget(storage);
  const base =
    stored !== undefined
      ? {
          text: stored,
          ...matchingExample(stored, examples),
          ...(storedTarget ? { target: storedTarget } : {}),
        }
      : defaultText();
  return invalid ? { ...base, invalid } : base;

  function defaultText(): { text: string; example?: string; target?: string } {
    return {
      text: examples.get(defaultExample) ?? "",
      example: defaultExample,
      ...(storedTarget ? { target: storedTarget } : {}),
    };
  }
}

function matchingExample(text: string, examples: ReadonlyMap<string, string>): { example?: string } {
  const name = exampleWithText(examples, text.length, () => text);
  return name !== undefined ? { example: name } : {};
}

/**
 * The example whose text the editor's text is exactly, or undefined: the picker shows it after
 * every edit, so an edit undone (or typed back) is that example again. Cheap enough for every
 * keystroke of a large file: `text` is read only when an example has `length` UTF-16 units (the
 * editor's length is known without building its text), and then once. Of examples with the same
 * text, `preferred` (the one shown) wins, else the first.
 */
export function exampleWithText(
  examples: ReadonlyMap<string, string>,
  length: number,
  text: () => string,
  preferred?: string,
): string | undefined {
  let current: string | undefined;
  let found: string | undefined;
  for (const [name, exampleText] of examples) {
    if (exampleText.length !== length) continue;
    current ??= text();
    if (exampleText !== current) continue;
    if (name === preferred) return name;
    found ??= name;
  }
  return found;
}
