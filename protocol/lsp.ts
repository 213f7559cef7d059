/**
 * Trapline's extensions to the Language Server Protocol, typed once (as rust-analyzer's
 * lsp_ext.ts) and imported by the server (server/src/protocol.ts builds its typed
 * RequestType/NotificationType objects from these names), the VS Code client and the
 * playground. Documented in docs/lsp.md; a test checks that every method named here appears
 * there.
 *
 * It lives in protocol/ because the client and the playground may not import the server's
 * sources (docs/ARCHITECTURE.md), and it imports nothing at run time: the playground's page
 * takes the method names from here without bundling vscode-languageserver (~180 kB minified).
 *
 * Only plain JSON-serialisable data crosses the wire.
 */

/** Zero-based line/character range (the LSP's own shape, repeated to keep this file self-contained). */
export interface WireRange {
  start: { line: number; character: number };
  end: { line: number; character: number };
}

export interface GuestSummary {
  name: string;
  /** The `vmcs` block the guest runs on. */
  vmcs: string;
  vcpus: number;
  /** All vCPUs together. */
  exitsPerSecond: number;
  /** Exit-handling share of the busy time, 0..1 (idle excluded). */
  overhead: number;
  /** Exit-handling cycles per second in host cores. */
  hostCpu: number;
  /** Busy share of one vCPU; above 1 means saturated. */
  demand: number;
  /** Range of the guest's name, for "go to guest". */
  range: WireRange;
  /** The file's `simulate GUEST for … seed …` defaults, when present. */
  simulate?: { durationSec: number; seed: number };
}

/**
 * Sent by the server after each analysis it publishes diagnostics for: the numbers the client's
 * language status item shows. Method `trapline/fileStatus`.
 */
export interface FileStatusParams {
  uri: string;
  /** Document version the numbers belong to. */
  version: number | null;
  target: { profile: string; hz: number; declared: boolean; range?: WireRange; profileRange?: WireRange };
  guests: GuestSummary[];
  /** Sum over the guests. */
  totalExitsPerSecond: number;
  /** Largest overhead of any guest (the file's headline number). */
  maxOverhead: number;
  errors: number;
  warnings: number;
  /** Analysis time of this version in milliseconds. */
  analysisMs: number;
}
export const FILE_STATUS_METHOD = "trapline/fileStatus";

/** A readable Markdown report of the static estimate of every guest (or of one). */
export interface EstimateReportParams {
  uri: string;
  guest?: string;
}
export interface EstimateReportResult {
  markdown: string;
}
export const ESTIMATE_REPORT_METHOD = "trapline/estimateReport";

/**
 * The static estimate of one guest run under each `vmcs` block of the file in turn (and under
 * other target profiles when `profiles` is given): the data behind "Compare Configurations".
 */
export interface CompareParams {
  uri: string;
  guest: string;
  /** Extra target profiles to compare, by name; the file's own target is always included. */
  profiles?: string[];
}
export interface CompareRow {
  vmcs: string;
  profile: string;
  exitsPerSecond: number;
  overhead: number;
  hostCpu: number;
  /** Top exit reasons by exits per second. */
  topReasons: { reason: string; exitsPerSecond: number; cyclesPerExit: number }[];
  /** Error diagnostics the configuration has (an entry check it fails, say): it would not run. */
  errors: string[];
}
export interface CompareResult {
  guest: string;
  rows: CompareRow[];
  markdown: string;
}
export const COMPARE_METHOD = "trapline/compare";

/** Names the client's pickers offer: guests of a file and the known target profiles. */
export interface FileInfoParams {
  uri: string;
}
export interface FileInfoResult {
  guests: string[];
  vmcs: string[];
  profiles: { name: string; displayName: string; year: number }[];
  target: { profile: string; declared: boolean; profileRange?: WireRange };
}
export const FILE_INFO_METHOD = "trapline/fileInfo";

/** Settings under the `trapline` section. */
export interface TraplineSettings {
  /** Target profile for files without a `target` line. */
  defaultTarget?: string;
  /** Show exits/s inlay hints after guest operations. */
  inlayHints?: boolean;
  /** Show cost code lenses above handlers and guests. */
  codeLens?: boolean;
}

/** What the client may pass as `initializationOptions`. */
export interface TraplineInitializationOptions {
  settings?: TraplineSettings;
  /** The client implements `trapline.runSimulation` (the VS Code extension does). */
  simulateCommand?: boolean;
  /** The client implements `trapline.showEstimate`. */
  estimateCommand?: boolean;
  /**
   * False in an untrusted workspace: the server reads no trace a `measured` statement names
   * until WORKSPACE_TRUST_METHOD arrives. Absent: trusted (a client without the notion).
   */
  workspaceTrusted?: boolean;
}

/** Notification client → server, no params: the user trusted the workspace. */
export const WORKSPACE_TRUST_METHOD = "trapline/didGrantWorkspaceTrust";

/**
 * Notification client → server, `{ fileName: string, text: string }`: a trace that stands in for
 * the `measured` paths where the server has no file system (the playground's dropped or pasted
 * trace; server/src/memoryTraces.ts).
 */
export const TRACE_PROVIDED_METHOD = "trapline/didProvideTrace";

/** The command the "▶ Simulate" code lens runs; arguments: [uri: string, guest: string]. */
export const RUN_SIMULATION_COMMAND = "trapline.runSimulation";
/** The command of the cost lenses when the client says it implements it (`estimateCommand`). */
export const SHOW_ESTIMATE_COMMAND = "trapline.showEstimate";

/** Every custom method, for the documentation test. */
export const CUSTOM_METHODS = [
  FILE_STATUS_METHOD,
  ESTIMATE_REPORT_METHOD,
  COMPARE_METHOD,
  FILE_INFO_METHOD,
  WORKSPACE_TRUST_METHOD,
  TRACE_PROVIDED_METHOD,
] as const;
