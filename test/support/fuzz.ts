/**
 * The fuzz harness shared by test/fuzz.test.ts (a modest count in `npm test`) and
 * scripts/fuzz.ts (the seeded long run): fast-check arbitraries for `.vmcs` text — generated
 * from the grammar (docs/language.md, core/src/lang/grammar.ts) and mutated from the examples —
 * and `checkPipeline`, which runs a text through parse, lowering, the checks, the estimate, the
 * lints, the quick fixes and a short simulation and returns every property it broke.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import {
  type Analysis,
  analyze,
  applyEdits,
  CONTROLS,
  type Diagnostic,
  EXIT_REASONS,
  type GuestEstimate,
  type GuestOp,
  INTERNAL_ERROR_CODE,
  lower,
  MSRS,
  PROFILES,
  type Program,
  parse,
  SimulationError,
  type Span,
  simulate,
  VMCS_FIELDS,
} from "../../core/src/index";
import {
  GUEST_OP_STATEMENTS,
  GUEST_SIMPLE_OPS,
  GUEST_STATEMENTS,
  HANDLER_STATEMENTS,
  VMCS_STATEMENTS,
} from "../../core/src/lang/grammar";

export const REPO = join(import.meta.dirname, "..", "..");

// ---- the grammar's vocabulary ---------------------------------------------------------------

const pick = <T>(values: readonly T[]) => fc.constantFrom(...values);

const CONTROL_NAMES = CONTROLS.map((c) => c.name);
const REASON_NAMES = EXIT_REASONS.map((r) => r.name);
const FIELD_NAMES = VMCS_FIELDS.map((f) => f.name);
const MSR_NAMES = MSRS.map((m) => m.name);
const PROFILE_NAMES = PROFILES.map((p) => p.name);
const COST_NAMES = Object.keys(PROFILES[0]!.costs);
const EXCEPTIONS = ["#PF", "#GP", "#UD", "#DB", "#BP", "#NMI", "#AC", "#MC", "#DE", "#pf", "#XX"];
const NAMES = ["kvm", "g", "h", "f0", "f1", "f2", "p", "q", "other", "x"];
const TIME_UNITS = ["ns", "us", "ms", "s"];
const RATE_UNITS = ["/s", "k/s", "M/s", "Hz", "kHz", "MHz", "GHz"];
const ALL_UNITS = [...TIME_UNITS, ...RATE_UNITS, "%", "xs", "GB"];

/** Numbers as the lexer reads them, ordinary and hostile (huge, tiny, negative, malformed). */
export const numberText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 5000 }).map(String) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }).map((n) => `0x${n.toString(16)}`) },
  { weight: 1, arbitrary: fc.integer({ min: -1000, max: -1 }).map(String) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 1000, noNaN: true }).map((n) => n.toFixed(3)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "0",
      "1_000_000",
      "18446744073709551615",
      "18446744073709551616",
      "99999999999999999999999999999",
      `0.${"0".repeat(320)}1`,
      `1${"0".repeat(400)}`,
      "0x",
      "0xzz",
      "1e9",
      "4294967296",
      "9007199254740993",
    ),
  },
);

const unitText = (units: readonly string[]) => fc.tuple(numberText, pick(units)).map(([n, u]) => n + u);
const time = unitText(TIME_UNITS);
const rate = unitText(RATE_UNITS);
const cost = fc.oneof(numberText, time);
const anyQuantity = unitText(ALL_UNITS);

/** An item where the grammar wants one kind: usually that kind, sometimes anything. */
const noisyItem = (right: fc.Arbitrary<string>) =>
  fc.oneof(
    { weight: 8, arbitrary: right },
    {
      weight: 1,
      arbitrary: fc.oneof(numberText, anyQuantity, pick(NAMES), pick(["{", "}", "..", "=", ","])),
    },
  );

const reason = fc.oneof(pick(REASON_NAMES), numberText, fc.constant("NOT_A_REASON"));
const msr = fc.oneof(pick(MSR_NAMES), numberText);
const vector = fc.oneof(pick(EXCEPTIONS), numberText);

// ---- declarations ---------------------------------------------------------------------------

const targetDecl = fc
  .tuple(
    fc.oneof({ weight: 9, arbitrary: pick(PROFILE_NAMES) }, { weight: 1, arbitrary: fc.constant("pentium") }),
    fc.option(unitText(["GHz", "MHz", "Hz", "ns"])),
    fc.array(
      fc.oneof(
        fc.tuple(pick(COST_NAMES), cost).map(([n, v]) => `cost ${n} = ${v}`),
        fc
          .tuple(pick(["IA32_VMX_PROCBASED_CTLS2", "IA32_VMX_MISC", "IA32_VMX_BASIC"]), numberText)
          .map(([n, v]) => `msr ${n} = ${v}`),
      ),
      { maxLength: 3 },
    ),
  )
  .map(
    ([profile, freq, body]) =>
      `target ${profile}${freq ? ` @ ${freq}` : ""}${body.length ? ` {\n  ${body.join("\n  ")}\n}` : ""}`,
  );

const controlStatement = fc
  .tuple(
    pick(["pin", "proc", "proc2", "proc3", "exit", "entry"]),
    fc.array(pick(CONTROL_NAMES), { minLength: 1, maxLength: 6 }),
  )
  .map(([word, names]) => `${word} ${names.join(" ")}`);

const eptEntry = fc
  .tuple(
    numberText,
    fc.option(numberText),
    pick(["r", "rw", "rwx", "x", "none", "misconfig", "apic", "wr", "rr"]),
  )
  .map(([a, b, perms]) => `${a}${b !== null ? ` .. ${b}` : ""} ${perms}`);

const vmcsStatement: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: controlStatement },
  {
    weight: 1,
    arbitrary: fc.array(vector, { minLength: 1, maxLength: 4 }).map((v) => `exceptions ${v.join(", ")}`),
  },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.tuple(numberText, fc.option(numberText)), { minLength: 1, maxLength: 3 })
      .map((ports) => `io trap ${ports.map(([a, b]) => (b !== null ? `${a}..${b}` : a)).join(", ")}`),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(pick(["read", "write", "rw"]), fc.array(msr, { minLength: 1, maxLength: 3 }))
      .map(([how, msrs]) => `msr trap ${how} ${msrs.join(" ")}`),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(numberText, numberText).map(([m, v]) => `pf_error_code mask ${m} match ${v}`),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(pick(["cr0", "cr4"]), numberText, fc.option(numberText))
      .map(([r, m, s]) => `${r} mask ${m}${s !== null ? ` shadow ${s}` : ""}`),
  },
  {
    weight: 1,
    arbitrary: fc.array(numberText, { minLength: 1, maxLength: 5 }).map((v) => `cr3_targets ${v.join(" ")}`),
  },
  { weight: 1, arbitrary: fc.tuple(numberText, numberText).map(([g, w]) => `ple gap ${g} window ${w}`) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(pick(["preemption_timer", "posted_interrupt_vector", "tpr_threshold", "vtpr"]), numberText)
      .map(([k, v]) => `${k} ${v}`),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.option(pick(["WB", "UC", "XX"])), fc.option(pick(["4", "5", "3"])), fc.boolean())
      .map(
        ([m, l, ad]) =>
          `eptp${m ? ` memtype ${m}` : ""}${l ? ` levels ${l}` : ""}${ad ? " accessed_dirty" : ""}`,
      ),
  },
  { weight: 2, arbitrary: fc.tuple(pick(FIELD_NAMES), numberText).map(([f, v]) => `field ${f} = ${v}`) },
  {
    weight: 2,
    arbitrary: fc.array(eptEntry, { maxLength: 4 }).map((e) => `ept {\n    ${e.join("\n    ")}\n  }`),
  },
  { weight: 1, arbitrary: genericStatement(VMCS_STATEMENTS) },
);

/** Any statement of a block by its grammar table: its keyword and up to its item count. */
function genericStatement(table: ReadonlyMap<string, { maxItems: number }>): fc.Arbitrary<string> {
  return fc
    .tuple(
      pick([...table.keys()]),
      fc.array(fc.oneof(numberText, anyQuantity, pick(NAMES), pick(CONTROL_NAMES)), { maxLength: 4 }),
    )
    .map(([keyword, items]) => [keyword, ...items].join(" "));
}

const vmcsDecl = fc
  .tuple(pick(NAMES), fc.array(vmcsStatement, { maxLength: 8 }))
  .map(([name, body]) => `vmcs ${name} {\n  ${body.join("\n  ")}\n}`);

const arm = (op: fc.Arbitrary<string>) =>
  fc
    .tuple(
      fc.oneof(fc.integer({ min: 0, max: 100 }).map(String), fc.constantFrom("0.5", "150", "-5", "99.99")),
      fc.option(pick(["hit", "miss", "slow"])),
      fc.array(op, { maxLength: 3 }),
    )
    .map(([p, label, ops]) => `${p}%${label ? ` ${label}:` : ""} ${ops.join(" ")}`);

/**
 * Handler operations nested up to `depth` blocks. Repeat counts are ordinary and huge alike:
 * the handler's cost is a closed form, so `repeat 10^20` is only a big number there.
 */
function handlerOps(depth: number): fc.Arbitrary<string> {
  const leaf: fc.Arbitrary<string> = fc.oneof(
    fc.tuple(pick(["vmread", "vmwrite"]), pick(FIELD_NAMES)).map(([k, f]) => `${k} ${f}`),
    fc.tuple(pick(["work", "userspace"]), noisyItem(cost)).map(([k, c]) => `${k} ${c}`),
    pick(["decode", "advance_rip", "invept", "invvpid", "halt", "kick", "userspace"]),
    vector.map((v) => `inject ${v}`),
    pick(["f0", "f1", "f2", "missing"]).map((f) => `call ${f}`),
    genericStatement(HANDLER_STATEMENTS),
  );
  if (depth <= 0) return leaf;
  const inner = handlerOps(depth - 1);
  return fc.oneof(
    { weight: 6, arbitrary: leaf },
    {
      weight: 1,
      arbitrary: fc
        .tuple(numberText, fc.array(inner, { maxLength: 3 }))
        .map(([n, ops]) => `repeat ${n} { ${ops.join(" ")} }`),
    },
    {
      weight: 1,
      arbitrary: fc
        .array(arm(inner), { minLength: 1, maxLength: 3 })
        .map((arms) => `branch {\n ${arms.join("\n ")}\n}`),
    },
  );
}

const handlerDecl = fc
  .tuple(reason, fc.array(handlerOps(3), { maxLength: 6 }))
  .map(([r, ops]) => `handler ${r} { ${ops.join("  ")} }`);
const fnDecl = fc
  .tuple(pick(["f0", "f1", "f2"]), fc.array(handlerOps(2), { maxLength: 5 }))
  .map(([n, ops]) => `fn ${n} { ${ops.join(" ")} }`);

/**
 * Guest operations nested up to `depth` blocks. The simulator steps `repeat` loops one
 * iteration at a time; generated counts stay small (≤ 64) so that a short simulation is short
 * (unbounded repeats are the simulator's own fix; their regression tests are its own).
 */
function guestOps(depth: number, repeatCounts: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const leaf: fc.Arbitrary<string> = fc.oneof(
    noisyItem(cost).map((c) => `compute ${c}`),
    pick(GUEST_SIMPLE_OPS),
    fc.tuple(pick(["rdmsr", "wrmsr"]), msr).map(([k, m]) => `${k} ${m}`),
    fc.tuple(pick(["in", "out"]), numberText).map(([k, p]) => `${k} ${p}`),
    fc.tuple(pick(["read", "write"]), numberText).map(([k, a]) => `mmio ${k} ${a}`),
    fc.tuple(pick(["read", "write", "exec"]), numberText).map(([k, a]) => `${k} ${a}`),
    fc
      .tuple(pick(["cr0", "cr3", "cr4", "cr8"]), fc.option(numberText))
      .map(([r, v]) => `mov ${r}${v !== null ? ` ${v}` : ""}`),
    pick(["mov dr", "read cr3", "read cr8"]),
    time.map((t) => `pause_loop ${t}`),
    fc.tuple(vector, fc.option(numberText)).map(([v, e]) => `exception ${v}${e !== null ? ` ${e}` : ""}`),
    fc.tuple(numberText, fc.boolean()).map(([n, pages]) => `dirty ${n}${pages ? " pages" : ""}`),
    genericStatement(GUEST_OP_STATEMENTS),
  );
  if (depth <= 0) return leaf;
  const inner = guestOps(depth - 1, repeatCounts);
  return fc.oneof(
    { weight: 8, arbitrary: leaf },
    {
      weight: 1,
      arbitrary: fc
        .tuple(repeatCounts, fc.array(inner, { maxLength: 3 }))
        .map(([n, ops]) => `repeat ${n} { ${ops.join(" ")} }`),
    },
    {
      weight: 1,
      arbitrary: fc
        .array(arm(inner), { minLength: 1, maxLength: 3 })
        .map((arms) => `branch {\n ${arms.join("\n ")}\n}`),
    },
    { weight: 1, arbitrary: fc.array(inner, { maxLength: 3 }).map((ops) => `tsx { ${ops.join(" ")} }`) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: 70000 }), time, fc.array(inner, { maxLength: 2 }))
        .map(([n, t, ops]) => `coalesce ${n} or ${t} { ${ops.join(" ")} }`),
    },
  );
}

const smallRepeat = fc.integer({ min: 0, max: 64 }).map(String);

function guestStatement(repeatCounts: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const body = fc.array(guestOps(3, repeatCounts), { maxLength: 5 }).map((ops) => `{ ${ops.join(" ")} }`);
  return fc.oneof(
    {
      weight: 1,
      arbitrary: noisyItem(fc.integer({ min: 0, max: 5000 }).map(String)).map((n) => `vcpus ${n}`),
    },
    {
      weight: 4,
      arbitrary: fc
        .tuple(pick(["p", "q", "r"]), fc.boolean(), rate, time, body)
        .map(([n, byRate, r, t, b]) => `path ${n} ${byRate ? `rate ${r}` : `every ${t}`} ${b}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(pick(["net", "disk"]), numberText, rate, fc.boolean(), body)
        .map(([n, v, r, posted, b]) => `irq ${n} vector ${v} rate ${r}${posted ? " posted" : ""} ${b}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.oneof(rate, time, fc.constant("tickless")), body)
        .map(([how, b]) => `timer ${how === "tickless" ? "tickless" : `periodic ${how}`} ${b}`),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(pick(["ipi", "nmi"]), rate, body).map(([k, r, b]) => `${k} rate ${r} ${b}`),
    },
    {
      weight: 1,
      arbitrary: pick(["idle halt", "idle poll", "idle mwait", "apic x2apic", "apic xapic", "idle nap"]),
    },
    { weight: 1, arbitrary: genericStatement(GUEST_STATEMENTS) },
  );
}

function guestDecl(repeatCounts: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(pick(["g", "h"]), pick(["kvm", "other"]), fc.array(guestStatement(repeatCounts), { maxLength: 5 }))
    .map(([name, vmcs, body]) => `guest ${name} on ${vmcs} {\n  ${body.join("\n  ")}\n}`);
}

const budget = fc.oneof(
  fc
    .tuple(pick(["<", "<=", ">"]), fc.oneof(unitText(["%"]), numberText))
    .map(([c, v]) => `overhead ${c} ${v}`),
  fc.tuple(pick(["<", "<="]), fc.oneof(unitText(["%"]), numberText)).map(([c, v]) => `host_cpu ${c} ${v}`),
  fc.tuple(fc.option(pick(REASON_NAMES)), rate).map(([r, v]) => `exits${r ? ` ${r}` : ""} < ${v}`),
  fc
    .tuple(pick(["p50", "p99", "p99_9", "p101"]), pick(["irq_latency", "net_latency"]), time)
    .map(([p, m, t]) => `${p} ${m} < ${t}`),
);
const expectDecl = fc
  .tuple(pick(["g", "h", "nobody"]), fc.array(budget, { maxLength: 3 }))
  .map(([g, b]) => `expect ${g} { ${b.join("  ")} }`);
const simulateDecl = fc
  .tuple(pick(["g", "h"]), time, fc.option(numberText))
  .map(([g, t, seed]) => `simulate ${g} for ${t}${seed !== null ? ` seed ${seed}` : ""}`);

/** A whole file from the grammar: usually a vmcs and a guest on it, with everything else around. */
export function generatedFile(repeatCounts: fc.Arbitrary<string> = smallRepeat): fc.Arbitrary<string> {
  const decl = fc.oneof(
    { weight: 1, arbitrary: targetDecl },
    { weight: 3, arbitrary: vmcsDecl },
    { weight: 3, arbitrary: handlerDecl },
    { weight: 2, arbitrary: fnDecl },
    { weight: 3, arbitrary: guestDecl(repeatCounts) },
    { weight: 1, arbitrary: expectDecl },
    { weight: 1, arbitrary: simulateDecl },
  );
  return fc
    .tuple(
      vmcsDecl.map((v) => v.replace(/^vmcs \S+/, "vmcs kvm")),
      guestDecl(repeatCounts).map((g) => g.replace(/^guest (\S+) on \S+/, "guest $1 on kvm")),
      fc.array(decl, { maxLength: 6 }),
      fc.boolean(),
    )
    .map(([vmcs, guest, rest, shuffle]) => {
      const decls = [vmcs, guest, ...rest];
      if (shuffle) decls.reverse();
      return `${decls.join("\n")}\n`;
    });
}

// ---- mutations of the examples ----------------------------------------------------------------

export const EXAMPLES: readonly { name: string; text: string }[] = readdirSync(join(REPO, "examples"))
  .filter((f) => f.endsWith(".vmcs"))
  .sort()
  .map((name) => ({ name, text: readFileSync(join(REPO, "examples", name), "utf8") }));

type Mutation = (text: string) => string;

/** Token boundaries: runs of non-space characters. */
function tokenSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  for (const m of text.matchAll(/\S+/g)) spans.push([m.index, m.index + m[0].length]);
  return spans;
}

const at = (n: number, length: number) => (length === 0 ? 0 : n % length);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // delete, duplicate or swap tokens
  fc.nat().map(
    (n): Mutation =>
      (text) => {
        const t = tokenSpans(text);
        const [s, e] = t[at(n, t.length)] ?? [0, 0];
        return text.slice(0, s) + text.slice(e);
      },
  ),
  fc.nat().map(
    (n): Mutation =>
      (text) => {
        const t = tokenSpans(text);
        const [s, e] = t[at(n, t.length)] ?? [0, 0];
        return `${text.slice(0, e)} ${text.slice(s, e)}${text.slice(e)}`;
      },
  ),
  fc.tuple(fc.nat(), fc.nat()).map(
    ([a, b]): Mutation =>
      (text) => {
        const t = tokenSpans(text);
        if (t.length < 2) return text;
        let [x, y] = [t[at(a, t.length)]!, t[at(b, t.length)]!];
        if (x[0] > y[0]) [x, y] = [y, x];
        if (x[1] > y[0]) return text;
        return (
          text.slice(0, x[0]) +
          text.slice(...y) +
          text.slice(x[1], y[0]) +
          text.slice(...x) +
          text.slice(y[1])
        );
      },
  ),
  // delete, duplicate or swap lines
  fc.tuple(fc.nat(), fc.nat({ max: 3 })).map(
    ([n, k]): Mutation =>
      (text) => {
        const lines = text.split("\n");
        lines.splice(at(n, lines.length), k + 1);
        return lines.join("\n");
      },
  ),
  fc.nat().map(
    (n): Mutation =>
      (text) => {
        const lines = text.split("\n");
        const i = at(n, lines.length);
        lines.splice(i, 0, lines[i] ?? "");
        return lines.join("\n");
      },
  ),
  fc.tuple(fc.nat(), fc.nat()).map(
    ([a, b]): Mutation =>
      (text) => {
        const lines = text.split("\n");
        const i = at(a, lines.length);
        const j = at(b, lines.length);
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        return lines.join("\n");
      },
  ),
  // random bytes (control characters, NULs, surrogates, braces)
  fc
    .tuple(
      fc.nat(),
      fc.oneof(
        fc.string({ maxLength: 8 }),
        fc.string({ unit: "binary", maxLength: 8 }),
        fc.constantFrom(
          "\0",
          "\uD800",
          "\uDFFF",
          "{",
          "}",
          "/*",
          "*/",
          "//",
          "\r",
          "\r\n",
          "\t",
          "%",
          "..",
          "#",
          "@",
        ),
      ),
    )
    .map(
      ([n, junk]): Mutation =>
        (text) => {
          const i = at(n, text.length + 1);
          return text.slice(0, i) + junk + text.slice(i);
        },
    ),
  // a number replaced by a huge, tiny, negative or malformed one
  fc.tuple(fc.nat(), numberText).map(
    ([n, replacement]): Mutation =>
      (text) => {
        const numbers = [...text.matchAll(/\b\d[\d_.]*(?:x[\da-fA-F_]+)?/g)];
        const m = numbers[at(n, numbers.length)];
        if (!m) return text;
        return text.slice(0, m.index) + replacement + text.slice(m.index + m[0].length);
      },
  ),
  // deep nesting: a statement wrapped in many blocks
  fc
    .tuple(fc.nat(), fc.integer({ min: 1, max: 200 }), pick(["repeat 2 {", "tsx {", "branch { 50%", "{"]))
    .map(
      ([n, depth, open]): Mutation =>
        (text) => {
          const lines = text.split("\n");
          const i = at(n, lines.length);
          lines[i] = `${open.repeat(depth)} ${lines[i]} ${"}".repeat(depth)}`;
          return lines.join("\n");
        },
    ),
);

/** An example with one to four mutations applied. */
export const mutatedExample: fc.Arbitrary<string> = fc
  .tuple(fc.nat({ max: EXAMPLES.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }))
  .map(([i, mutations]) => mutations.reduce((text, m) => m(text), EXAMPLES[i]!.text));

/** Either kind of input. */
export const anyInput: fc.Arbitrary<string> = fc.oneof(generatedFile(), mutatedExample);

// ---- the properties -------------------------------------------------------------------------

export interface PipelineOptions {
  /** Event budget of each short simulation. */
  maxEvents: number;
  /** Simulated time of each short simulation, in seconds. */
  durationSec: number;
  /**
   * Simulate only guests whose nested `repeat` counts multiply to at most this per operation
   * (the simulator steps repeats one iteration at a time; the sim's own fix bounds the rest).
   */
  maxRepeatProduct: number;
}

export const DEFAULT_PIPELINE: PipelineOptions = {
  maxEvents: 20_000,
  durationSec: 0.002,
  maxRepeatProduct: 10_000,
};

export function spanInside(span: Span, length: number): boolean {
  return (
    Number.isInteger(span.start) &&
    Number.isInteger(span.end) &&
    span.start >= 0 &&
    span.start <= span.end &&
    span.end <= length
  );
}

function describeDiagnostic(d: Diagnostic): string {
  return `${d.code} [${d.span.start}, ${d.span.end}] ${d.message.slice(0, 200)}`;
}

const errorsOf = (diagnostics: readonly Diagnostic[]) =>
  diagnostics.filter((d) => d.severity === "error").length;

/**
 * Every figure of an estimate is a finite, non-negative number, with overhead at most 100 % —
 * in a file with errors too: where the text is wrong (branch arms above 100 %, say) a located
 * diagnostic says so and lowering hands the estimator a value it can use.
 */
export function estimateProblems(guest: string, e: GuestEstimate): string[] {
  const problems: string[] = [];
  const figure = (where: string, value: unknown) => {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
      problems.push(`estimate of ${guest}: ${where} = ${String(value)}`);
  };
  for (const key of ["exitsPerSecond", "overhead", "hostCpu", "demand"] as const) figure(key, e[key]);
  if (e.overhead > 1 + 1e-9) problems.push(`estimate of ${guest}: overhead ${e.overhead} above 100 %`);
  for (const r of e.byReason) {
    figure(`byReason ${r.reason}.exitsPerSecond`, r.exitsPerSecond);
    figure(`byReason ${r.reason}.cyclesPerExit`, r.cyclesPerExit);
  }
  for (const p of e.paths) {
    for (const [key, value] of Object.entries(p))
      if (typeof value === "number") figure(`path ${p.name}.${key}`, value);
  }
  for (const o of e.operations) {
    for (const key of ["exitsPerSecond", "cyclesPerExit", "vcpuShare", "hostShare"] as const)
      figure(`operation ${key}`, o[key]);
  }
  return problems;
}

/** The largest product of nested repeat counts among a guest's operations. */
export function repeatProduct(ops: readonly GuestOp[], outer = 1): number {
  let most = outer;
  for (const op of ops) {
    const nested =
      op.op === "repeat"
        ? repeatProduct(op.ops, outer * op.count)
        : "ops" in op && Array.isArray(op.ops)
          ? repeatProduct(op.ops as GuestOp[], outer)
          : op.op === "branch"
            ? Math.max(outer, ...op.arms.map((a) => repeatProduct(a.ops, outer)))
            : outer;
    if (nested > most) most = nested;
  }
  return most;
}

export interface PipelineReport {
  problems: string[];
  analysis?: Analysis;
  /** Guests simulated. */
  simulated: number;
}

/**
 * Runs one text through every stage and returns what broke: an exception anywhere, a TL999,
 * a diagnostic (or related span, or fix edit) outside the text, an estimate figure that is not
 * a finite non-negative number, a quick fix that adds a parse error to a file that had none,
 * the streaming lowering differing from `lower(parse(text))`, or a simulation that throws
 * anything but a SimulationError or runs past its event budget.
 */
export function checkPipeline(text: string, options: PipelineOptions = DEFAULT_PIPELINE): PipelineReport {
  const problems: string[] = [];
  let analysis: Analysis;
  try {
    analysis = analyze(text);
  } catch (error) {
    return { problems: [`analyze threw: ${String((error as Error)?.stack ?? error)}`], simulated: 0 };
  }
  for (const d of analysis.diagnostics) {
    if (d.code === INTERNAL_ERROR_CODE) problems.push(`internal error: ${describeDiagnostic(d)}`);
    if (!spanInside(d.span, text.length))
      problems.push(`diagnostic outside the text (${text.length}): ${describeDiagnostic(d)}`);
    for (const r of d.related ?? [])
      if (!spanInside(r.span, text.length))
        problems.push(`related span outside the text: ${describeDiagnostic(d)}`);
    for (const fix of d.fixes ?? [])
      for (const edit of fix.edits)
        if (!spanInside(edit.span, text.length)) problems.push(`fix edit outside the text: ${fix.title}`);
  }

  // lower(parse(text)) equals the streaming path analyze takes.
  try {
    const whole = lower(parse(text));
    if (!isDeepStrictEqual(whole.program, analysis.program))
      problems.push("the streaming lowering differs from lower(parse(text)): program");
    if (!isDeepStrictEqual(whole.symbols.definitions, analysis.symbols.definitions))
      problems.push("the streaming lowering differs from lower(parse(text)): symbol definitions");
  } catch (error) {
    problems.push(`lower(parse(text)) threw: ${String((error as Error)?.stack ?? error)}`);
  }

  for (const [guest, estimate] of analysis.estimates) {
    try {
      problems.push(...estimateProblems(guest, estimate));
    } catch (error) {
      problems.push(`reading the estimate of ${guest} threw: ${String((error as Error)?.stack ?? error)}`);
    }
  }

  // Quick fixes: the text they produce parses, and a fix in a file without syntax errors
  // introduces none. (In a file with syntax errors a fix of one may expose the next one the
  // recovery had skipped — `hand/*ler` fixed to `handler/*ler` — so there only the parse
  // must not throw.)
  const parseErrors = errorsOf(analysis.parse.diagnostics);
  let fixesTried = 0;
  for (const d of analysis.diagnostics) {
    for (const fix of d.fixes ?? []) {
      if (fixesTried++ >= 12) break;
      try {
        const fixed = applyEdits(text, fix.edits);
        const after = errorsOf(parse(fixed).diagnostics);
        if (parseErrors === 0 && after > 0)
          problems.push(`quick fix "${fix.title}" (${d.code}) adds parse errors: ${parseErrors} → ${after}`);
      } catch (error) {
        problems.push(`quick fix "${fix.title}" threw: ${String(error)}`);
      }
    }
  }

  // A short simulation of up to two guests, when the file has no errors.
  let simulated = 0;
  if (errorsOf(analysis.diagnostics) === 0) {
    for (const guest of [...analysis.program.guests.values()].slice(0, 2)) {
      const product = Math.max(...guest.sources.map((s) => repeatProduct(s.ops)), 1);
      if (product > options.maxRepeatProduct) continue;
      simulated++;
      try {
        const result = simulate(analysis.program, guest.name, {
          durationSec: options.durationSec,
          maxEvents: options.maxEvents,
          timelineIntervals: 1000,
        });
        for (const key of ["exits", "exitsPerSecond", "overhead", "hostCpu"] as const) {
          const value = result[key] as unknown;
          if (typeof value === "number" && !(Number.isFinite(value) && value >= 0))
            problems.push(`simulation of ${guest.name}: ${key} = ${value}`);
        }
      } catch (error) {
        if (!(error instanceof SimulationError))
          problems.push(`simulation of ${guest.name} threw: ${String((error as Error)?.stack ?? error)}`);
      }
    }
  }
  return { problems, analysis, simulated };
}

export type { Program };
