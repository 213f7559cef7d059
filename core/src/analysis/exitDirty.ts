import { EXIT } from "../vmx/exitReasons";
import { KVM_DEFAULTS } from "../vmx/kvmDefaults";
import { ctl, type ExitContext, exitsWith, noExit, on, SDM_EPT, SDM_PML, state } from "./exitRules";
import type { ExitDecision } from "./types";

// ---------------------------------------------------------------------------------------------
// Dirty pages

/** PML buffer entries (PML_LOG_NR_ENTRIES, arch/x86/kvm/vmx/vmx.h; the KVM_DEFAULTS table). */
export const PML_ENTRIES = KVM_DEFAULTS.pmlEntries.value;

export function decideDirty(pages: number, ctx: ExitContext): ExitDecision {
  const c = ctl();
  const controls = state(ctx, c.ept, c.pml);
  if (!on(ctx, c.ept))
    return noExit(
      "Dirty logging without EPT uses shadow-page write protection, which is out of this model's scope.",
      controls,
      SDM_PML,
    );
  if (on(ctx, c.pml))
    return exitsWith(
      EXIT.PML_FULL,
      `With PML each newly dirtied page is logged; the ${PML_ENTRIES}-entry buffer fills and exits with PML_FULL once every ${PML_ENTRIES} pages: ${pages}/${PML_ENTRIES} = ${(pages / PML_ENTRIES).toFixed(4)} exits per execution.`,
      controls,
      `${SDM_PML}; KVM vmx_flush_pml_buffer`,
      "Dirty logging (e.g. live migration) is assumed to be on.",
      pages / PML_ENTRIES,
    );
  return exitsWith(
    EXIT.EPT_VIOLATION,
    `Without PML, dirty logging write-protects every page: the first write to each of ${pages} pages exits with EPT_VIOLATION.`,
    controls,
    `${SDM_EPT}; KVM write-protection dirty logging (kvm_mmu_slot_remove_write_access)`,
    "Dirty logging (e.g. live migration) is assumed to be on.",
    pages,
  );
}
