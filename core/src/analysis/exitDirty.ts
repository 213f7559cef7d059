import type { VmcsIR } from "../model/ir";
import { EXIT } from "../vmx/exitReasons";
import { eptpAccessedDirty } from "../vmx/fieldFormats";
import { KVM_DEFAULTS } from "../vmx/kvmDefaults";
import { ctl, type ExitContext, exitsWith, noExit, on, SDM_EPT, SDM_PML, state } from "./exitRules";
import type { ExitDecision } from "./types";

/**
 * EPT accessed/dirty flags enabled: `eptp … accessed_dirty`, or bit 6 of a raw EPT_POINTER
 * (SDM Vol. 3C §25.6.11 EPTP, older editions §24.6.11). PML logs a guest-physical address only
 * when a write sets an EPT dirty flag, which needs them (SDM §29.3.6).
 */
export function eptAccessedDirty(vmcs: VmcsIR): boolean {
  if (vmcs.eptp !== undefined) return vmcs.eptp.accessedDirty;
  const raw = vmcs.fields.size === 0 ? undefined : vmcs.fields.get("EPT_POINTER")?.value;
  return raw !== undefined && eptpAccessedDirty(raw);
}

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
  if (on(ctx, c.pml) && !eptAccessedDirty(ctx.vmcs))
    return exitsWith(
      EXIT.EPT_VIOLATION,
      `PML is on but EPT accessed/dirty flags are off (\`eptp … accessed_dirty\`, EPTP bit 6): the CPU logs a page only when it sets its dirty flag, so nothing is logged and KVM does not use PML (it disables enable_pml without A/D). Dirty logging falls back to write protection: the first write to each of ${pages} pages exits with EPT_VIOLATION.`,
      controls,
      `${SDM_PML}; KVM hardware_setup (arch/x86/kvm/vmx/vmx.c: \`if (!enable_ept || !enable_ept_ad_bits || !cpu_has_vmx_pml()) enable_pml = 0;\`)`,
      "Dirty logging (e.g. live migration) is assumed to be on.",
      pages,
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
