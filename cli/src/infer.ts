/**
 * `trapline infer TRACE [-o OUT.vmcs] [--target PROFILE]`: writes a starting `.vmcs` from a trace
 * (core/src/trace/infer.ts): controls consistent with the exits seen, handlers costing the
 * measured means, a guest whose paths give the measured rates.
 */
import { analyze, inferVmcs, profileByName } from "../../core/src/index";
import { formatDiagnosticLine } from "./check";
import { type Command, EXIT_DIAGNOSTICS, EXIT_OK, UsageError } from "./command";
import { readTrace } from "./trace";

/** The estimate of an inferred file's guest, for inferVmcs's refinement of the wake-up rate. */
export function inferredEstimate(text: string): { code: number; exitsPerSecond: number }[] | undefined {
  return analyze(text).estimates.get("inferred")?.byReason;
}

export const inferCommand: Command = {
  name: "infer",
  summary: "write a starting .vmcs (controls, handlers, guest paths) that reproduces a trace's exits",
  usage: "infer TRACE [-o OUT.vmcs] [--target PROFILE]",
  options: { output: { type: "string", short: "o" }, target: { type: "string" } },
  help: "  -o, --output OUT.vmcs  write the file there (default: print it)\n  --target PROFILE       the CPU profile of the target line (default skylake_server)\n\nReasons the language cannot express are listed as comments at the top of the file.\n\nExit status: 0 written and checks clean, 1 the inferred file has errors (printed on stderr),\n2 bad usage, an unreadable or unwritable file, or a trace in no known format.",
  async run({ values, positionals }, io) {
    if (positionals.length !== 1) throw new UsageError("infer needs exactly one TRACE");
    const path = positionals[0]!;
    const target = typeof values.target === "string" ? values.target : undefined;
    if (target !== undefined && !profileByName(target))
      throw new UsageError(`--target: unknown CPU profile ${target}`);
    const trace = await readTrace(io, path, undefined);
    if (trace.format === undefined) throw new UsageError(`${path}: not a KVM trace in any known format`);
    if (trace.exits.totalCount === 0)
      throw new UsageError(`${path}: the trace has no paired exits to infer from`);
    const result = inferVmcs(trace, {
      sourceName: path,
      estimate: inferredEstimate,
      ...(target ? { profile: target } : {}),
    });
    const out = typeof values.output === "string" ? values.output : undefined;
    if (out !== undefined) {
      try {
        io.writeFile(out, result.text);
      } catch (error) {
        throw new UsageError(
          `cannot write ${out}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
        );
      }
      io.stderr(
        `trapline infer: wrote ${out} (${result.expressed.length} reason${result.expressed.length === 1 ? "" : "s"} expressed${result.notExpressed.length > 0 ? `, not expressed: ${result.notExpressed.map((n) => n.reason).join(", ")}` : ""})\n`,
      );
    } else io.stdout(result.text);
    const analysis = analyze(result.text);
    const errors = analysis.diagnostics.filter((d) => d.severity === "error");
    if (errors.length > 0) {
      io.stderr(
        `${errors.map((d) => formatDiagnosticLine(out ?? "<inferred>", analysis.lines, d)).join("\n")}\n`,
      );
      return EXIT_DIAGNOSTICS;
    }
    return EXIT_OK;
  },
};
