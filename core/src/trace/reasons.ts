/**
 * Exit-reason text as traces print it → the exit_reason number, through the VT-x table
 * (core/src/vmx/exitReasons.ts) or the SVM one (core/src/vmx/svmExitReasons.ts); no numbers
 * here. What a trace can print (docs/traces.md "Exit reasons"):
 * - VMX names, upper case (`EPT_VIOLATION`), possibly followed by flag names (`FAILED_VMENTRY`,
 *   the kernel's VMX_EXIT_REASON_FLAGS appended after a space by kvm_exit's TP_printk);
 * - SVM names, lower case (`npf`, `DE excp`), or libtraceevent's `EXIT_NPF` style;
 * - `UNKNOWN (N)` (libtraceevent for a code it has no name for) or perf's bare `UNKNOWN`;
 * - a bare number.
 * An unknown name keeps its text and has no code; `UNKNOWN (N)` keeps N.
 */
import {
  EXIT_REASON_FAILED_VMENTRY,
  EXIT_REASON_SGX_ENCLAVE_MODE,
  exitReasonByCode,
  exitReasonByName,
} from "../vmx/exitReasons";
import { svmExitReasonByName } from "../vmx/svmExitReasons";
import type { TraceIsa } from "./types";

export interface ResolvedReason {
  /** The base name as printed ("EPT_VIOLATION", "npf", "UNKNOWN"). */
  name: string;
  /** exit_reason: basic code | flag bits; undefined for a name no table knows. */
  code?: number;
  isa?: TraceIsa;
  flags: string[];
  /** Display key: the name plus flags, as perf would print the row. */
  display: string;
  /** Identity of the row: the code when known, else the text. */
  identity: string;
}

/** VMX_EXIT_REASON_FLAGS (arch/x86/include/uapi/asm/vmx.h) by the name the tracepoint prints. */
const VMX_FLAG_BITS: Record<string, number> = {
  FAILED_VMENTRY: EXIT_REASON_FAILED_VMENTRY,
  SGX_ENCLAVE_MODE: EXIT_REASON_SGX_ENCLAVE_MODE,
};

function isDigits(text: string): boolean {
  return text.length > 0 && /^\d+$/.test(text);
}

function hasLowerCase(text: string): boolean {
  return text !== text.toUpperCase();
}

function resolveName(name: string): { code?: number; isa?: TraceIsa } {
  if (isDigits(name)) return { code: Number(name), isa: "vmx" };
  // __print_symbolic prints a value missing from its table as 0x%lx (kernel/trace/trace_output.c).
  if (/^0x[0-9a-f]+$/i.test(name)) return { code: Number.parseInt(name, 16), isa: "vmx" };
  if (hasLowerCase(name)) {
    const svm = svmExitReasonByName(name);
    if (svm) return { code: svm.code, isa: "svm" };
  }
  const vmx = exitReasonByName(name);
  if (vmx) return { code: vmx.code, isa: "vmx" };
  const svmMacro = svmExitReasonByName(name);
  if (svmMacro) return { code: svmMacro.code, isa: "svm" };
  return {};
}

/** Resolves the text between `reason ` and ` rip` (or a report row's name). */
export function resolveReasonText(raw: string): ResolvedReason {
  const text = raw.trim().replace(/\s+/g, " ");
  const unknown = /^UNKNOWN\s*\((\d+)\)$/.exec(text);
  if (unknown) {
    const code = Number(unknown[1]);
    return { name: "UNKNOWN", code, flags: [], display: `UNKNOWN (${code})`, identity: `code:${code}` };
  }
  // A whole-text SVM name first: "DE excp" has a space in it.
  const whole = hasLowerCase(text) ? svmExitReasonByName(text) : undefined;
  if (whole) {
    return {
      name: text,
      code: whole.code,
      isa: "svm",
      flags: [],
      display: text,
      identity: `svm:${whole.code}`,
    };
  }
  const words = text.split(" ");
  const name = words[0] ?? "";
  const flags = words.slice(1);
  const { code, isa } = resolveName(name);
  const display = text;
  if (code === undefined) return { name, flags, display, identity: `name:${text}` };
  let full = code;
  for (const flag of flags) {
    const bit = isa === "vmx" ? VMX_FLAG_BITS[flag] : undefined;
    if (bit !== undefined) full = (full | bit) >>> 0;
  }
  const out: ResolvedReason = { name, code: full, flags, display, identity: `${isa}:${full}` };
  if (isa) out.isa = isa;
  // A flag Trapline cannot number keeps the row apart by its text.
  if (flags.some((f) => isa !== "vmx" || VMX_FLAG_BITS[f] === undefined))
    out.identity = `${isa}:${full}:${text}`;
  return out;
}

/** The VT-x name of a basic code, for numbers printed without a name. */
export function vmxNameOfCode(code: number): string | undefined {
  return exitReasonByCode(code)?.name;
}
