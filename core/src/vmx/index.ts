/** The VT-x data tables: the one place SDM facts live. */
export * from "./apic";
export * from "./capabilities";
export * from "./controls";
export * from "./exceptions";
export * from "./exitReasons";
export * from "./fieldFormats";
export * from "./instructions";
export * from "./kvmDefaults";
export * from "./msrs";
export * from "./profiles";
export * from "./types";
export * from "./vmcsFields";
