/**
 * The sources the VM-entry rules cite, spelled once. SDM sections are the current Intel SDM
 * Vol. 3C numbering (chapter 27 = VM entries) with the pre-2023 one (chapter 26) beside them;
 * the Linux functions are in arch/x86/kvm/vmx/nested.c unless a rule says otherwise.
 */
export const SDM_EXEC = "SDM Vol. 3C §27.2.1.1, VM-execution control fields (§26.2.1.1 in pre-2023 editions)";
export const SDM_EXIT = "SDM Vol. 3C §27.2.1.2, VM-exit control fields (§26.2.1.2 in pre-2023 editions)";
export const SDM_ENTRY = "SDM Vol. 3C §27.2.1.3, VM-entry control fields (§26.2.1.3 in pre-2023 editions)";
export const SDM_HOST =
  "SDM Vol. 3C §27.2.2–27.2.4, host state and address-space size (§26.2.2–26.2.4 in pre-2023 editions)";
export const NESTED = "Linux arch/x86/kvm/vmx/nested.c";
export const BOCHS = "Bochs bochs/cpu/vmx.cc VMenterLoadCheckVmControls";
