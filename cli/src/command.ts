/**
 * The contract between `runCli` and its commands. A command module exports one `Command`;
 * main.ts lists it in its command table (the simulator adds `simulate`, the language server
 * `lsp`, each in its own module).
 */
import type { ParseArgsConfig } from "node:util";
import type { Analysis } from "../../core/src/index";

/** Everything a command may do to the outside world; tests pass an in-memory implementation. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Throws (with a Node-style `code` such as ENOENT when it can) if the file cannot be read. */
  readFile(path: string): string;
  writeFile(path: string, data: string): void;
  /**
   * Reads a file as UTF-8 text in chunks, for inputs too large to hold (`trapline trace`).
   * Optional: without it commands fall back to readFile. Fails like readFile (synchronously
   * when the file cannot be opened, else while iterating).
   */
  streamFile?(path: string): TextStream;
  /** stderr is a terminal (progress lines are drawn only then). */
  stderrIsTTY?: boolean;
}

/**
 * A file being read: its size in bytes when known, and its contents in chunks with their byte
 * counts, as text or as the bytes read (UTF-8, a chunk may end mid-character).
 */
export interface TextStream {
  size?: number;
  chunks: AsyncIterable<{ text: string; bytes: number } | { data: Uint8Array; bytes: number }>;
}

export type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;

export interface ParsedArgs {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

export interface Command {
  name: string;
  /** One line for `trapline --help`. */
  summary: string;
  /** Usage line(s) after `trapline `, e.g. "check FILE… [--json]". */
  usage: string;
  /** node:util parseArgs options (`--help` is added for every command). */
  options: OptionsConfig;
  /** Text after the usage in `trapline COMMAND --help`: option descriptions. */
  help?: string;
  run(args: ParsedArgs, io: CliIO): Promise<number> | number;
}

/** Exit statuses of the CLI contract (spec/language.md "Command line"). */
export const EXIT_OK = 0;
export const EXIT_DIAGNOSTICS = 1;
export const EXIT_USAGE = 2;

/** A usage or input problem: printed as one line on stderr, exit status 2. */
export class UsageError extends Error {}

/**
 * The largest `.vmcs` file the CLI reads: 64 MiB (a 10 MB file analyses in about a second;
 * docs/language.md "Performance"). Larger files, and what is not a regular file (a device, a
 * FIFO, a socket), are refused with exit status 2 before they are read.
 */
export const MAX_SOURCE_BYTES = 64 * 1024 * 1024;

/** Reads a file through io, turning any failure into a one-line UsageError. */
export function readSource(io: CliIO, path: string): string {
  try {
    return io.readFile(path);
  } catch (error) {
    throw cannotRead(path, error);
  }
}

/** The one-line UsageError for a file that could not be read. */
export function cannotRead(path: string, error: unknown): UsageError {
  const code = (error as { code?: unknown }).code;
  const reason =
    code === "ENOENT"
      ? "no such file"
      : code === "EISDIR"
        ? "is a directory"
        : code === "EACCES"
          ? "permission denied"
          : code === "ENOTREGULAR"
            ? "not a regular file (a device, FIFO or socket)"
            : code === "EFBIG"
              ? `larger than the ${MAX_SOURCE_BYTES / (1024 * 1024)} MiB limit`
              : error instanceof Error
                ? error.message.split("\n")[0]
                : String(error);
  return new UsageError(`cannot read ${path}: ${reason}`);
}

/**
 * The guest a command works on: the one asked for (a usage error if the file has none of that
 * name), else `preferred` when the file declares it, else the file's first guest.
 */
export function pickGuest(
  analysis: Analysis,
  requested: string | undefined,
  file: string,
  purpose: string,
  preferred?: string,
): string {
  const names = [...analysis.program.guests.keys()];
  if (requested !== undefined) {
    if (!analysis.program.guests.has(requested)) {
      throw new UsageError(
        `${file} has no guest ${requested}${names.length > 0 ? ` (guests: ${names.join(", ")})` : ""}`,
      );
    }
    return requested;
  }
  if (preferred !== undefined && analysis.program.guests.has(preferred)) return preferred;
  if (names.length === 0) throw new UsageError(`${file} declares no guest to ${purpose}`);
  return names[0]!;
}
