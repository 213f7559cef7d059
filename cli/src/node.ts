/** Binds runCli to the real process: files through node:fs, exit status through process.exitCode. */
import {
  closeSync,
  constants,
  createReadStream,
  fstatSync,
  openSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { type CliIO, MAX_SOURCE_BYTES, type TextStream } from "./command";
import { runCli } from "./run";

/**
 * Reads a regular file of at most `limit` bytes. What is not a regular file is refused before a
 * byte is read: `/dev/zero` and `/dev/urandom` never end, and a FIFO without a writer would
 * block (it is opened with O_NONBLOCK, so the open returns and fstat says what it is).
 */
export function readRegularFile(path: string, limit: number): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    if (!stat.isFile()) throw Object.assign(new Error("not a regular file"), { code: "ENOTREGULAR" });
    if (stat.size > limit) throw Object.assign(new Error("too large"), { code: "EFBIG", size: stat.size });
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

export const nodeIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readFile: (path) => readRegularFile(path, MAX_SOURCE_BYTES),
  writeFile: (path, data) => writeFileSync(path, data),
  streamFile: streamFile,
  stderrIsTTY: process.stderr.isTTY === true,
};

/**
 * 1 MiB chunks, decoded as UTF-8 across chunk boundaries. The path is opened once and the size
 * is the descriptor's (fstat), read from that descriptor: the file checked is the file read.
 * A FIFO or tracefs file (`trace_pipe`) is read as it comes (size 0: no percentage).
 */
export function streamFile(path: string): TextStream {
  const fd = openSync(path, constants.O_RDONLY);
  let stat: ReturnType<typeof fstatSync>;
  try {
    stat = fstatSync(fd);
    if (stat.isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: "EISDIR" });
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  // The bytes as read: the trace importer splits and reads them without decoding (feedBytes).
  async function* chunks(): AsyncGenerator<{ data: Uint8Array; bytes: number }> {
    for await (const buffer of createReadStream("", { fd, highWaterMark: 1 << 20, autoClose: true }))
      yield { data: buffer as Buffer, bytes: (buffer as Buffer).length };
  }
  return { size: stat.isFile() ? stat.size : 0, chunks: chunks() };
}

/** Entry point of bin/trapline.js. Sets the exit status once output is flushed. */
export function runNode(argv: string[] = process.argv.slice(2)): void {
  runCli(argv, nodeIO).then(
    (status) => {
      process.exitCode = status;
    },
    (error: unknown) => {
      process.stderr.write(
        `trapline: internal error: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exitCode = 2;
    },
  );
}
