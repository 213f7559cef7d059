/**
 * Imports a trace file's bytes in the panel's worker and packages it as a {@link PanelRun}, so
 * the panel draws it with the code that draws a simulation (core/src/trace/timeline.ts does the
 * conversion). The bytes are decoded and fed to the core's streaming `TraceImporter` in chunks,
 * so progress can be reported between them and memory stays that of the bytes plus the
 * importer's bounded state (docs/traces.md "Bounded memory"). No DOM, no Node APIs.
 */
import { TraceImporter, traceToRun } from "../../core/src/index";
import type { PanelRun } from "../../protocol/panel";

/** Bytes decoded and fed per step: large enough that the per-chunk cost vanishes, small enough for smooth progress. */
export const TRACE_CHUNK_BYTES = 4 * 1024 * 1024;

export interface TraceImportProgress {
  bytes: number;
  totalBytes: number;
  lines: number;
}

export function importTraceBytes(
  fileName: string,
  bytes: Uint8Array,
  onProgress?: (progress: TraceImportProgress) => void,
  chunkBytes = TRACE_CHUNK_BYTES,
): PanelRun {
  let lines = 0;
  const importer = new TraceImporter({
    onProgress: (p) => {
      lines = p.lines;
    },
  });
  // fatal: false: a stray invalid byte becomes U+FFFD on its line (then counted as a bad line
  // if it does not parse), as the CLI reads files; a trace is never refused for its encoding.
  const decoder = new TextDecoder("utf-8", { fatal: false });
  for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
    const end = Math.min(bytes.length, offset + chunkBytes);
    const text = decoder.decode(bytes.subarray(offset, end), { stream: end < bytes.length });
    importer.feed(text);
    onProgress?.({ bytes: end, totalBytes: bytes.length, lines });
  }
  const tail = decoder.decode();
  if (tail) importer.feed(tail);
  const result = importer.end();
  const run = traceToRun(result, fileName);
  return {
    title: `${fileName} (measured)`,
    guest: fileName,
    timeline: run.timeline,
    stats: run.stats,
    reasonNames: run.reasonNames,
    trace: {
      format: result.format ?? "unknown",
      kind: result.kind ?? "unknown",
      ...(result.window
        ? { window: { startSec: result.window.startSec, endSec: result.window.endSec } }
        : {}),
      sampleStride: run.sampleStride,
      drawnExits: run.drawnExits,
      lines: result.lines,
      badLines: result.badLineCount,
    },
  };
}
