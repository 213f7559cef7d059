/**
 * N2–N7: the VM-entry interruption-information field (event injection), checked when the file
 * sets it with the valid bit (31) on. Field layout (Linux asm/vmx.h INTR_INFO_*): vector 7:0,
 * type 10:8, deliver-error-code 11, reserved 30:12, valid 31. Interruption types (SDM Vol. 3C
 * §25.8.3, VM-entry controls for event injection; §24.8.3 in pre-2023 editions): 0 external interrupt, 1 reserved, 2 NMI,
 * 3 hardware exception, 4 software interrupt, 5 privileged software exception, 6 software
 * exception, 7 other event.
 */
import type { Diagnostic, Span } from "../../source";
import { zeroLengthInjection } from "../../vmx/capabilities";
import { controlInWord } from "../../vmx/controls";
import {
  interruptionDeliversErrorCode,
  interruptionReservedBits,
  interruptionType,
  interruptionValid,
  interruptionVector,
} from "../../vmx/fieldFormats";
import { bitOfHalves, type EntryRule, hex, REF, type VmcsView } from "./context";
import { NESTED, SDM_ENTRY } from "./references";

const REFERENCE = `${SDM_ENTRY}; ${NESTED} nested_check_vm_entry_controls`;

const INTR_TYPE_NAMES = [
  "external interrupt",
  "reserved",
  "NMI",
  "hardware exception",
  "software interrupt",
  "privileged software exception",
  "software exception",
  "other event",
];
/** Vectors that push an error code (Linux arch/x86/kvm/x86.h x86_exception_has_error_code): #DF #TS #NP #SS #GP #PF #AC. */
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17]);

/** The interruption-information field when the file sets it with the valid bit (31) on. */
function injectedEvent(view: VmcsView): { value: bigint; span: Span } | undefined {
  const info = view.field("VM_ENTRY_INTR_INFO_FIELD");
  return info && interruptionValid(info.value) ? info : undefined;
}

function report(out: Diagnostic[], info: { value: bigint; span: Span }, rule: string, message: string): void {
  out.push({
    severity: "error",
    code: `VMX-${rule}`,
    message: `VM_ENTRY_INTR_INFO_FIELD = ${hex(info.value)}: ${message} (rule ${rule})`,
    span: info.span,
    reference: REFERENCE,
  });
}

const typeOf = interruptionType;
const vectorOf = interruptionVector;
const deliversErrorCode = interruptionDeliversErrorCode;

function unit(rule: string, title: string, check: EntryRule["check"]): EntryRule {
  return { id: rule, codes: [`VMX-${rule}`], rules: [rule], title, reference: REFERENCE, check };
}

export const ENTRY_EVENT_RULES: readonly EntryRule[] = [
  unit(
    "N2",
    "VM_ENTRY_INTR_INFO_FIELD (valid bit 31 set): type 1 is reserved; type 7 needs monitor-trap-flag support.",
    (view, out) => {
      const info = injectedEvent(view);
      if (!info) return;
      const type = typeOf(info.value);
      if (type === 1) report(out, info, "N2", "interruption type 1 is reserved");
      if (type !== 7) return;
      // Type 7 only if the CPU supports the monitor trap flag (proc allowed-1 bit 27).
      const mtfControl = controlInWord("proc", "monitor_trap_flag");
      const proc = view.capabilityOf("proc");
      const mtf =
        mtfControl !== undefined && bitOfHalves(proc.mayBeOneLow, proc.mayBeOneHigh, mtfControl.bit);
      if (!mtf)
        report(
          out,
          info,
          "N2",
          `interruption type 7 (other event) needs monitor-trap-flag support, which ${view.target.profile.name} lacks`,
        );
    },
  ),
  unit(
    "N3",
    "NMI (type 2) vector = 2; hardware exception (3) vector ≤ 31; other event (7) vector = 0.",
    (view, out) => {
      const info = injectedEvent(view);
      if (!info) return;
      const type = typeOf(info.value);
      const vector = vectorOf(info.value);
      if (type === 2 && vector !== 2)
        report(out, info, "N3", `an NMI (type 2) must have vector 2, not ${vector}`);
      if (type === 3 && vector > 31)
        report(out, info, "N3", `a hardware exception (type 3) must have a vector ≤ 31, not ${vector}`);
      if (type === 7 && vector !== 0)
        report(out, info, "N3", `an other event (type 7, pending MTF) must have vector 0, not ${vector}`);
    },
  ),
  unit(
    "N4",
    "Deliver-error-code bit only for a hardware exception in protected mode (guest CR0.PE from `field GUEST_CR0` when `unrestricted_guest`, else assumed 1), and then exactly for #DF #TS #NP #SS #GP #PF #AC — the latter not checked when IA32_VMX_BASIC[56] = 1.",
    (view, out) => {
      const info = injectedEvent(view);
      if (!info) return;
      const type = typeOf(info.value);
      const vector = vectorOf(info.value);
      const deliverError = deliversErrorCode(info.value);
      const unrestricted = view.has(REF.proc2_unrestricted_guest);
      const guestCr0 = view.field("GUEST_CR0");
      const protectedMode = !unrestricted || (guestCr0 ? (guestCr0.value & 1n) === 1n : true);
      if (!protectedMode || type !== 3) {
        if (deliverError)
          report(
            out,
            info,
            "N4",
            `an error code can be delivered only for a hardware exception in protected mode (type ${type}: ${INTR_TYPE_NAMES[type]}${protectedMode ? "" : ", guest CR0.PE = 0"})`,
          );
      } else if (((view.target.msrs.IA32_VMX_BASIC >> 56n) & 1n) === 0n) {
        const needs = ERROR_CODE_VECTORS.has(vector);
        if (deliverError !== needs) {
          report(
            out,
            info,
            "N4",
            needs
              ? `vector ${vector} pushes an error code: set the deliver-error-code bit (11)`
              : `vector ${vector} has no error code: clear the deliver-error-code bit (11)`,
          );
        }
      }
    },
  ),
  unit("N5", "Delivered error code (VM_ENTRY_EXCEPTION_ERROR_CODE) bits 31:16 = 0.", (view, out) => {
    const info = injectedEvent(view);
    if (!info || !deliversErrorCode(info.value)) return;
    const errorCode = view.field("VM_ENTRY_EXCEPTION_ERROR_CODE");
    if (!errorCode || errorCode.value >> 16n === 0n) return;
    out.push({
      severity: "error",
      code: "VMX-N5",
      message: `VM_ENTRY_EXCEPTION_ERROR_CODE = ${hex(errorCode.value)}: bits 31:16 must be 0 when an error code is delivered (rule N5)`,
      span: errorCode.span,
      related: [{ span: info.span, message: "the event is injected here" }],
      reference: REFERENCE,
    });
  }),
  unit("N6", "Interruption-information reserved bits 30:12 = 0.", (view, out) => {
    const info = injectedEvent(view);
    if (!info) return;
    const reserved = interruptionReservedBits(info.value);
    if (reserved !== 0n) report(out, info, "N6", `reserved bits 30:12 must be 0 (they are ${hex(reserved)})`);
  }),
  unit(
    "N7",
    "Software interrupt / privileged or ordinary software exception (types 4–6) ⇒ VM_ENTRY_INSTRUCTION_LEN 1–15 (0 allowed when IA32_VMX_MISC[30]).",
    (view, out) => {
      const info = injectedEvent(view);
      if (!info) return;
      const type = typeOf(info.value);
      if (type !== 4 && type !== 5 && type !== 6) return;
      const lengthField = view.field("VM_ENTRY_INSTRUCTION_LEN");
      const length = lengthField?.value ?? 0n;
      const zeroAllowed = zeroLengthInjection(view.target.msrs);
      if (length <= 15n && (length !== 0n || zeroAllowed)) return;
      out.push({
        severity: "error",
        code: "VMX-N7",
        message: `a ${INTR_TYPE_NAMES[type]} (type ${type}) needs VM_ENTRY_INSTRUCTION_LEN between 1 and 15${lengthField ? `, not ${length}` : " (the file does not set it, so it is 0)"} (rule N7)`,
        span: lengthField?.span ?? info.span,
        reference: REFERENCE,
      });
    },
  ),
];
