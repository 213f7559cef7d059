/** The VT-x data tables: the one place SDM facts live. */
export * from "./apic";
export * from "./capabilities";
export * from "./controls";
export * from "./exceptions";
export * from "./exitOperands";
export * from "./exitReasons";
export * from "./fieldFormats";
export * from "./instructions";
export * from "./kvmDefaults";
export * from "./msrs";
// Named: L1's capability MSRs under KVM, for hovers and docs.
export { NESTED_CAPABILITY_STEPS, NESTED_EMULATED, nestedCapabilityMsrs } from "./nestedCapabilities";
export * from "./profiles";
// Only the hover note: the state-check constants are the rules' own (short names like CR0, EFER).
export { unsetStateNote } from "./stateChecks";
export * from "./types";
export * from "./vmcsFields";
