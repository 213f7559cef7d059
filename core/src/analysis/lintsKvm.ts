/**
 * Lints for configurations no KVM developer would ship (issue 12, "Also"), each grounded in what
 * Linux arch/x86/kvm/vmx/vmx.c always does:
 * - TL340: no external-interrupt exiting (`setup_vmcs_config` requires PIN_BASED_EXT_INTR_MASK,
 *   `vmx_pin_based_exec_ctrl` never clears it);
 * - TL341: a guest access to an x2APIC timer, EOI or ICR MSR that the MSR bitmap lets through to
 *   the physical local APIC (`vmx_update_msr_bitmap_x2apic`);
 * - TL342: EPT off with neither CR3-load exiting nor #PF intercepted (shadow paging:
 *   `vmx_exec_control`, `vmx_update_exception_bitmap`);
 * - TL343: `use_msr_bitmaps` with a guest access to an MSR that KVM always intercepts left free
 *   (`vmx_possible_passthrough_msrs`, `vmx_disable_intercept_for_msr`).
 * TL340 and TL342 are asked only of a vmcs that writes its pin word (`writesPinWord`). TL341 and
 * TL343 sit on the guest operation that touches the MSR, so a bitmap left free for MSRs
 * no guest uses stays quiet. docs/diagnostics.md lists the codes.
 */
import type { GuestIR, GuestOp, Program, VmcsIR } from "../model/ir";
import type { CodeFix, Diagnostic, Span } from "../source";
import { isX2apicMsr, X2APIC_KVM_INTERCEPTED, X2APIC_MSR, type X2apicPassCondition } from "../vmx/apic";
import { CONTROL, CONTROL_WORD_FIELD, type ControlRef, controlInWord, isControlSet } from "../vmx/controls";
import { exceptionByMnemonic } from "../vmx/exceptions";
import { KVM_PASSTHROUGH_MSRS, msrByIndex } from "../vmx/msrs";
import type { ControlWord } from "../vmx/types";
import { addControlsEdits } from "./checkEdits";
import { effectiveControls } from "./effective";
import { msrBitmapBit, msrInBitmapRange, vmcsLookup } from "./exitLookup";
import { hex } from "./exitRules";

type Words = Record<ControlWord, bigint>;

const VMX_C = "Linux arch/x86/kvm/vmx/vmx.c";

export function lintKvmConfigurations(program: Program, text: string | undefined, out: Diagnostic[]): void {
  for (const vmcs of program.vmcs.values()) {
    if (!writesPinWord(vmcs)) continue;
    const words = effectiveControls(vmcs, program.target);
    lintExternalInterruptExiting(vmcs, words, text, out);
    lintShadowPaging(vmcs, words, text, out);
  }
  for (const guest of program.guests.values()) {
    const vmcs = program.vmcs.get(guest.vmcs);
    if (!vmcs) continue;
    const words = effectiveControls(vmcs, program.target);
    if (!isControlSet(words, CONTROL.proc.use_msr_bitmaps)) continue;
    const bitmap = vmcsLookup(vmcs);
    const visit = (ops: readonly GuestOp[]) => {
      for (const op of ops) {
        if (op.op === "tsx" || op.op === "repeat" || op.op === "coalesce") visit(op.ops);
        else if (op.op === "branch") for (const arm of op.arms) visit(arm.ops);
        else if (op.op === "rdmsr" || op.op === "wrmsr")
          lintMsrAccess(op.msr, op.op === "wrmsr", op.span, guest, vmcs, words, bitmap, text, out);
        else if (op.op === "eoi" && guest.apic === "x2apic")
          lintMsrAccess(X2APIC_MSR.EOI, true, op.span, guest, vmcs, words, bitmap, text, out);
      }
    };
    for (const source of guest.sources) visit(source.ops);
  }
}

/**
 * TL340 and TL342 judge a whole configuration: only a vmcs that writes its pin-based word (a
 * `pin` line or `field PIN_BASED_VM_EXEC_CONTROL`) is one. A sketch that names only the controls
 * of the exit it studies (`vmcs a { proc hlt_exiting }`) is not a configuration anyone ships.
 */
function writesPinWord(vmcs: VmcsIR): boolean {
  return vmcs.wordLines.pin !== undefined || vmcs.fields.has(CONTROL_WORD_FIELD.pin);
}

function vmcsRelated(vmcs: VmcsIR) {
  return [{ span: vmcs.nameSpan, message: `vmcs ${vmcs.name}` }];
}

function addControlFix(vmcs: VmcsIR, word: ControlWord, name: string, text: string | undefined): CodeFix[] {
  const def = controlInWord(word, name);
  if (!def) return [];
  return [{ title: `Add ${name} (${word})`, edits: addControlsEdits(vmcs, [def], text), preferred: true }];
}

/**
 * TL340: a vmcs without external-interrupt exiting (pin-based bit 0): host interrupts are then
 * delivered through the guest's IDT while it runs (SDM Vol. 3C §26.2, pre-2023 §25.2) and the host
 * loses its timer and device interrupts. KVM requires the control: vmx.c `setup_vmcs_config`
 * (`min = PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING`) and `vmx_pin_based_exec_ctrl`, which
 * clears only virtual NMIs, posted interrupts and the preemption timer.
 */
function lintExternalInterruptExiting(
  vmcs: VmcsIR,
  words: Words,
  text: string | undefined,
  out: Diagnostic[],
): void {
  if (isControlSet(words, CONTROL.pin.external_interrupt_exiting)) return;
  out.push({
    severity: "warning",
    code: "TL340",
    message: `vmcs ${vmcs.name} has no external_interrupt_exiting (pin): host interrupts arriving while the guest runs are delivered to the guest through its IDT, not to the host; KVM always sets it (vmx.c setup_vmcs_config, vmx_pin_based_exec_ctrl)`,
    span: vmcs.wordLines.pin ?? vmcs.nameSpan,
    related: vmcsRelated(vmcs),
    reference: `SDM Vol. 3C §26.2 (pre-2023 §25.2); ${VMX_C} setup_vmcs_config, vmx_pin_based_exec_ctrl`,
    fixes: addControlFix(vmcs, "pin", "external_interrupt_exiting", text),
  });
}

/**
 * TL342: EPT off (no `enable_ept`, or the secondary controls not activated) with neither
 * CR3-load exiting nor #PF in the exception bitmap: the guest's CR3 and page tables are then the
 * hardware's, so a hypervisor without EPT cannot keep shadow page tables. KVM with !enable_ept
 * sets CR3-load/store and INVLPG exiting (vmx.c `vmx_exec_control`) and intercepts #PF
 * (`vmx_update_exception_bitmap`: #PF is cleared only when `!vmx_need_pf_intercept`, which is
 * true without EPT).
 */
function lintShadowPaging(vmcs: VmcsIR, words: Words, text: string | undefined, out: Diagnostic[]): void {
  if (isControlSet(words, CONTROL.proc2.enable_ept)) return;
  if (isControlSet(words, CONTROL.proc.cr3_load_exiting)) return;
  const pf = exceptionByMnemonic("#PF");
  if (!pf) return;
  const bitmap = vmcs.exceptionBitmap | Number(vmcs.fields.get("EXCEPTION_BITMAP")?.value ?? 0n);
  if ((bitmap >>> pf.vector) & 1) return;
  out.push({
    severity: "warning",
    code: "TL342",
    message: `vmcs ${vmcs.name} runs without EPT but neither cr3_load_exiting (proc) nor #PF is intercepted: the guest's page tables are used unchecked, so no shadow paging is possible; KVM without EPT sets CR3-load exiting and intercepts #PF (vmx.c vmx_exec_control, vmx_update_exception_bitmap)`,
    span: vmcs.wordLines.proc2 ?? vmcs.wordLines.proc ?? vmcs.nameSpan,
    related: vmcsRelated(vmcs),
    reference: `${VMX_C} vmx_exec_control, vmx_update_exception_bitmap, vmx_need_pf_intercept`,
    fixes: addControlFix(vmcs, "proc", "cr3_load_exiting", text),
  });
}

const PASS_CONTROLS: Record<Exclude<X2apicPassCondition, "never">[number], ControlRef> = {
  virtualize_x2apic_mode: CONTROL.proc2.virtualize_x2apic_mode,
  apic_register_virtualization: CONTROL.proc2.apic_register_virtualization,
  virtual_interrupt_delivery: CONTROL.proc2.virtual_interrupt_delivery,
  ipi_virtualization: CONTROL.proc3.ipi_virtualization,
};

function kvmPasses(condition: X2apicPassCondition, words: Words): boolean {
  return condition !== "never" && condition.every((name) => isControlSet(words, PASS_CONTROLS[name]));
}

/** A `msr trap read|write NAME` line added before the vmcs block's closing brace. */
function trapFix(vmcs: VmcsIR, msrLabel: string, write: boolean, text: string | undefined): CodeFix[] {
  if (text === undefined) return [];
  const closeBrace = vmcs.span.end - 1;
  if (text[closeBrace] !== "}") return [];
  const lineStart = text.lastIndexOf("\n", closeBrace - 1) + 1;
  const beforeBrace = text.slice(lineStart, closeBrace);
  const line = `  msr trap ${write ? "write" : "read"} ${msrLabel}`;
  const edit =
    beforeBrace.trim() === ""
      ? { span: { start: lineStart, end: lineStart }, newText: `${line}\n` }
      : { span: { start: closeBrace, end: closeBrace }, newText: `\n${line}\n` };
  return [{ title: `Trap ${write ? "writes" : "reads"} of ${msrLabel}`, edits: [edit], preferred: true }];
}

/**
 * TL341 / TL343: a guest RDMSR/WRMSR (or an x2APIC EOI) that the MSR bitmap lets through
 * although KVM would intercept it. TL341: the x2APIC rows of apic.ts (`vmx_update_msr_bitmap_x2apic`).
 * TL343: any other MSR in the bitmap's ranges that is not in msrs.ts KVM_PASSTHROUGH_MSRS
 * (`vmx_possible_passthrough_msrs`; `vmx_disable_intercept_for_msr` refuses the others).
 */
function lintMsrAccess(
  msr: number,
  write: boolean,
  span: Span,
  guest: GuestIR,
  vmcs: VmcsIR,
  words: Words,
  bitmap: ReturnType<typeof vmcsLookup>,
  text: string | undefined,
  out: Diagnostic[],
): void {
  if (!msrInBitmapRange(msr) || msrBitmapBit(bitmap, msr, write)) return;
  const insn = write ? "WRMSR" : "RDMSR";
  const name = msrByIndex(msr)?.name;
  const label = name ?? hex(msr);
  const x2apic = X2APIC_KVM_INTERCEPTED.find((row) => row.msr === msr);
  if (x2apic) {
    const condition = write ? x2apic.write : x2apic.read;
    if (kvmPasses(condition, words)) return;
    const when =
      condition === "never"
        ? "KVM never passes it through (it emulates the register)"
        : `KVM passes it through only with ${condition.join(" + ")}, which the hardware then virtualizes`;
    out.push({
      severity: "warning",
      code: "TL341",
      message: `${insn} ${label} in guest ${guest.name} reaches the physical local APIC: its ${write ? "write" : "read"} bit is clear in the MSR bitmap of vmcs ${vmcs.name} and the access is not virtualized; ${when} (vmx.c vmx_update_msr_bitmap_x2apic)`,
      span,
      related: vmcsRelated(vmcs),
      reference: `${VMX_C} vmx_update_msr_bitmap_x2apic; SDM Vol. 3C §30.5 (pre-2023 §29.5)`,
      fixes: trapFix(vmcs, label, write, text),
    });
    return;
  }
  if (KVM_PASSTHROUGH_MSRS.has(msr)) return;
  // The rest of the x2APIC range follows vmx_update_msr_bitmap_x2apic too (TPR, ISR, IRR … with
  // APICv); what the guest reaches there is decided by exitMsr.ts, not by this lint.
  if (isX2apicMsr(msr)) return;
  out.push({
    severity: "warning",
    code: "TL343",
    message: `${insn} ${label} in guest ${guest.name} does not exit: vmcs ${vmcs.name} uses MSR bitmaps and leaves its ${write ? "write" : "read"} bit clear, but KVM always intercepts ${label} (it is not in vmx_possible_passthrough_msrs), so the guest reaches the hardware MSR`,
    span,
    related: vmcsRelated(vmcs),
    reference: `${VMX_C} vmx_possible_passthrough_msrs, vmx_disable_intercept_for_msr, vmx_msr_filter_changed`,
    fixes: trapFix(vmcs, label, write, text),
  });
}
