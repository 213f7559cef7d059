/**
 * `guest NAME on VMCS { … }`: the guest statements (`vcpus`, `idle`, `apic`) and its event
 * sources (`path`, `irq`, `timer`, `ipi`, `nmi`), each source with its arrival and its guest
 * operations (guestOps.ts). Sources are named uniquely per guest and listed in the outline.
 */

import type { GuestDecl, Item, Statement } from "../../lang/ast";
import { keywordSpanOf } from "../../lang/ast";
import { argumentWords, RATE_SCOPES } from "../../lang/grammar";
import type { Span } from "../../source";
import { FIRST_EXTERNAL_INTERRUPT_VECTOR, MAX_VECTOR } from "../../vmx/apic";
import { KVM_DEFAULTS } from "../../vmx/kvmDefaults";
import { choice, dimensionOf, identifier, integer, keywordArgs, period, rate } from "../args";
import { type LowerContext, spanOf } from "../context";
import type { Arrival, GuestIR, GuestSource } from "../ir";
import type { SymbolDef } from "../symbols";
import { guestOps } from "./guestOps";
import { guestHaltPoll, pinned } from "./host";
import { guestHypervisorOf } from "./nested";
import { type StatementLowerer, statementTable } from "./table";

const MAX_VCPUS = 4096;

const APIC_MODES = argumentWords("guest", "apic").choice! as readonly ("x2apic" | "xapic")[];
const IDLE_MODES = argumentWords("guest", "idle").choice! as readonly ("halt" | "poll" | "mwait")[];
const PATH_ARRIVALS = argumentWords("guest", "path").choice!;
const IRQ_WORDS = argumentWords("guest", "irq");
const TIMER_MODES = argumentWords("guest", "timer").choice!;
const RATE_WORD = [argumentWords("guest", "ipi").lead!];
const MEASURED_WORDS = argumentWords("guest", "measured").pairs!;
/** Largest `tolerance` accepted: beyond 10× apart a comparison flags nothing useful. */
const MAX_TOLERANCE = 10;

/** A guest statement: a source, or undefined (a setting of the guest, or diagnosed). */
type GuestStatement = StatementLowerer<GuestIR, GuestSource | undefined>;

const vcpus: GuestStatement = {
  keywords: ["vcpus"],
  lower(ctx, guest, statement) {
    const n = integer(
      ctx,
      statement.items[0],
      "a vCPU count",
      "vcpus",
      keywordSpanOf(statement),
      1,
      MAX_VCPUS,
    );
    if (n !== undefined) guest.vcpus = n;
    return undefined;
  },
};

const idle: GuestStatement = {
  keywords: ["idle"],
  lower(ctx, guest, statement) {
    const mode = choice(ctx, statement.items[0], IDLE_MODES, "idle", keywordSpanOf(statement), {
      unknown: "idle mode",
    });
    if (mode !== undefined) {
      guest.idle = mode;
      guest.idleSpan = spanOf(statement);
    }
    return undefined;
  },
};

const path: GuestStatement = {
  keywords: ["path"],
  lower(ctx, guest, statement) {
    const ops = guestOps(ctx, statement.body?.entries ?? [], guest);
    const [nameItem, how, value, perWord, scopeItem] = statement.items;
    const name = identifier(ctx, nameItem, "path", keywordSpanOf(statement), {
      expected: "a path name",
      missing: "a name",
    });
    if (name === undefined) return undefined;
    const arrivalWord = choice(ctx, how, PATH_ARRIVALS, `path ${name.name}`, name, {
      unknown: "arrival",
      expected: "`rate R` or `every T`",
    });
    let arrival: Arrival | undefined;
    const per = perWord === undefined ? undefined : rateScope(ctx, perWord, scopeItem, `path ${name.name}`);
    if (per === null) return undefined;
    if (arrivalWord === "rate") {
      const r = rate(ctx, value, "rate", how!);
      if (r !== undefined) arrival = poissonArrival(r, per);
    } else if (arrivalWord === "every") {
      const periodSec = period(ctx, value, "every", how!);
      if (per === "guest") {
        ctx.error(
          "TL201",
          "`per guest` applies to `rate R` (a Poisson stream splits evenly over the vCPUs); `every T` is each vCPU's period",
          perWord!,
        );
        return undefined;
      }
      if (periodSec !== undefined) arrival = { kind: "periodic", periodSec };
    }
    if (arrival === undefined) return undefined;
    return { kind: "path", name: name.name, arrival, ops, span: spanOf(statement), nameSpan: name };
  },
};

const irq: GuestStatement = {
  keywords: ["irq"],
  lower(ctx, guest, statement) {
    const ops = guestOps(ctx, statement.body?.entries ?? [], guest);
    const name = identifier(ctx, statement.items[0], "irq", keywordSpanOf(statement), {
      expected: "an irq name",
      missing: "a name",
    });
    if (name === undefined) return undefined;
    const args = keywordArgs(ctx, statement, IRQ_WORDS.pairs!, IRQ_WORDS.flags!, 1);
    if (args === undefined) return undefined;
    const vectorItem = args.get("vector");
    const rateItem = args.get("rate");
    if (vectorItem == null) {
      ctx.error("TL201", `expected \`vector V\` in \`irq ${name.name}\``, name);
      return undefined;
    }
    const vector = integer(
      ctx,
      vectorItem,
      "an interrupt vector",
      "vector",
      name,
      FIRST_EXTERNAL_INTERRUPT_VECTOR,
      MAX_VECTOR,
    );
    const perSecond = rateItem == null ? undefined : rate(ctx, rateItem, "rate", name);
    if (rateItem == null) ctx.error("TL201", `expected \`rate R\` in \`irq ${name.name}\``, name);
    const perItem = args.get("per");
    const per = perItem == null ? undefined : scopeWord(ctx, perItem, `irq ${name.name}`);
    if (vector === undefined || perSecond === undefined || per === null) return undefined;
    return {
      kind: "irq",
      name: name.name,
      vector,
      arrival: poissonArrival(perSecond, per),
      posted: args.has("posted"),
      ops,
      span: spanOf(statement),
      nameSpan: name,
    };
  },
};

const timer: GuestStatement = {
  keywords: ["timer"],
  lower(ctx, guest, statement) {
    const ops = guestOps(ctx, statement.body?.entries ?? [], guest);
    const [modeItem, value] = statement.items;
    const mode = choice(ctx, modeItem, TIMER_MODES, "timer", keywordSpanOf(statement), {
      unknown: "timer mode",
      expected: "`periodic F` or `tickless [HZ]`",
    });
    let arrival: Arrival | undefined;
    if (mode === "tickless") {
      // The tick rate while busy: `timer tickless 1000Hz`, or CONFIG_HZ's default (kvmDefaults).
      const hz = value === undefined ? KVM_DEFAULTS.tickHz.value : rate(ctx, value, "tickless", modeItem!);
      if (hz !== undefined) arrival = { kind: "tickless", hz };
    } else if (mode === "periodic") {
      if (value?.kind === "Quantity" && dimensionOf(value) === "time") {
        const periodSec = period(ctx, value, "periodic", modeItem!);
        if (periodSec !== undefined) arrival = { kind: "periodic", periodSec };
      } else {
        const hz = rate(ctx, value, "periodic", modeItem!);
        if (hz !== undefined) arrival = { kind: "periodic", periodSec: 1 / hz };
      }
    }
    if (arrival === undefined) return undefined;
    return {
      kind: "timer",
      name: "timer",
      arrival,
      ops,
      span: spanOf(statement),
      nameSpan: keywordSpanOf(statement),
    };
  },
};

const ipiNmi: GuestStatement = {
  keywords: ["ipi", "nmi"],
  lower(ctx, guest, statement) {
    const keyword = statement.keyword as "ipi" | "nmi";
    const ops = guestOps(ctx, statement.body?.entries ?? [], guest);
    const [how, value, perWord, scopeItem] = statement.items;
    if (
      choice(ctx, how, RATE_WORD, keyword, keywordSpanOf(statement), { expected: "`rate R`" }) === undefined
    )
      return undefined;
    const perSecond = rate(ctx, value, "rate", how!);
    const per = perWord === undefined ? undefined : rateScope(ctx, perWord, scopeItem, keyword);
    if (perSecond === undefined || per === null) return undefined;
    return {
      kind: keyword,
      name: keyword,
      arrival: poissonArrival(perSecond, per),
      ops,
      span: spanOf(statement),
      nameSpan: keywordSpanOf(statement),
    };
  },
};

/**
 * `measured "PATH" [tolerance P%]`: the KVM trace this guest is set beside (docs/traces.md "In the
 * editor"). Only recorded here: the adapter reads the file, the core compares.
 */
const measured: GuestStatement = {
  keywords: ["measured"],
  lower(ctx, guest, statement) {
    const [pathItem] = statement.items;
    const at = keywordSpanOf(statement);
    if (pathItem === undefined || pathItem.kind !== "String") {
      if (pathItem === undefined)
        ctx.error("TL201", 'expected a trace file in quotes after `measured` (`measured "trace.txt"`)', at);
      else ctx.wrongItem(pathItem, 'a trace file in quotes (`"trace.txt"`)', "measured");
      return undefined;
    }
    if (pathItem.value.trim() === "") {
      ctx.error("TL201", "the trace file name is empty", pathItem);
      return undefined;
    }
    const args = keywordArgs(ctx, statement, MEASURED_WORDS, [], 1);
    if (args === undefined) return undefined;
    let tolerance: number | undefined;
    const toleranceItem = args.get("tolerance");
    if (toleranceItem != null) {
      if (toleranceItem.kind !== "Quantity" || toleranceItem.unit !== "%") {
        ctx.error("TL202", "a tolerance is a percentage (`tolerance 25%`)", toleranceItem);
        return undefined;
      }
      const fraction = toleranceItem.value / 100;
      if (!(fraction > 0) || fraction > MAX_TOLERANCE) {
        ctx.error("TL205", `a tolerance must be above 0% and at most ${MAX_TOLERANCE * 100}%`, toleranceItem);
        return undefined;
      }
      tolerance = fraction;
    }
    if (guest.measured !== undefined) {
      ctx.error("TL101", `duplicate \`measured\` in guest \`${guest.name}\`: a guest has one trace`, at, {
        related: [{ span: guest.measured.span, message: "first named here" }],
      });
      return undefined;
    }
    guest.measured = {
      path: pathItem.value,
      pathSpan: { start: pathItem.start, end: pathItem.end },
      span: spanOf(statement),
      ...(tolerance === undefined ? {} : { tolerance }),
    };
    return undefined;
  },
};

/** The guest statements after `apic` (read first: it decides how `eoi`/`send_ipi` lower). */
const GUEST_LOWERERS = statementTable(
  "guest",
  [vcpus, idle, path, irq, timer, ipiNmi, pinned, guestHaltPoll, measured],
  ["apic"],
);

export function lowerGuest(ctx: LowerContext, decl: GuestDecl, def: SymbolDef | undefined): void {
  if (decl.name === undefined) return;
  if (decl.vmcs !== undefined) ctx.referenceLater("vmcs", decl.vmcs, "TL111");
  const statements = (decl.body?.entries ?? []).filter(
    (e): e is Statement => e.kind === "Statement" && e.known,
  );
  const guest: GuestIR = {
    name: decl.name.name,
    span: spanOf(decl),
    nameSpan: decl.name,
    vmcs: decl.vmcs?.name ?? "",
    vmcsSpan: decl.vmcs ?? decl.name,
    ...guestHypervisorOf(ctx, decl),
    vcpus: 1,
    apic: "x2apic",
    idle: "halt",
    sources: [],
  };
  // The APIC mode decides how `eoi`/`send_ipi` lower, so read it first.
  for (const statement of statements) {
    if (statement.keyword !== "apic") continue;
    const mode = choice(ctx, statement.items[0], APIC_MODES, "apic", keywordSpanOf(statement), {
      unknown: "APIC mode",
    });
    if (mode !== undefined) guest.apic = mode;
  }
  const sourceNames = new Map<string, Span>();
  for (const statement of statements) {
    const lowerStatement = GUEST_LOWERERS.get(statement.keyword);
    if (lowerStatement === undefined) continue;
    const source = lowerStatement(ctx, guest, statement);
    if (source === undefined) continue;
    const first = sourceNames.get(source.name);
    if (first !== undefined) {
      ctx.error(
        "TL101",
        `duplicate ${source.kind} \`${source.name}\` in guest \`${guest.name}\``,
        source.nameSpan,
        {
          related: [{ span: first, message: "first defined here" }],
        },
      );
      continue;
    }
    sourceNames.set(source.name, source.nameSpan);
    guest.sources.push(source);
    def?.children.push({
      kind: source.kind,
      name: source.name,
      span: source.span,
      nameSpan: source.nameSpan,
      detail: arrivalText(source.arrival),
      children: [],
    });
  }
  // `rate R per guest`: the guest's total over its vCPUs, once `vcpus` (anywhere in the block) is known.
  for (const source of guest.sources) {
    const a = source.arrival;
    if (a.kind === "poisson" && a.per === "guest")
      source.arrival = { kind: "poisson", ratePerSec: a.ratePerSec / guest.vcpus, per: "guest" };
  }
  if (!ctx.program.guests.has(guest.name)) ctx.program.guests.set(guest.name, guest);
}

/** A Poisson arrival as written; a per-guest rate is divided by the vCPUs after the block (lowerGuest). */
function poissonArrival(perSecond: number, per: "vcpu" | "guest" | undefined): Arrival {
  return per === undefined
    ? { kind: "poisson", ratePerSec: perSecond }
    : { kind: "poisson", ratePerSec: perSecond, per };
}

/** `per vcpu|guest` after a rate: the scope, undefined when absent, null when diagnosed. */
function rateScope(
  ctx: LowerContext,
  perWord: Item,
  scopeItem: Item | undefined,
  after: string,
): "vcpu" | "guest" | null {
  if (perWord.kind !== "Ident" || perWord.name !== "per") {
    ctx.wrongItem(perWord, "`per vcpu` or `per guest`", after);
    return null;
  }
  if (scopeItem === undefined) {
    ctx.error("TL201", "expected `vcpu` or `guest` after `per`", perWord);
    return null;
  }
  return scopeWord(ctx, scopeItem, after);
}

function scopeWord(ctx: LowerContext, item: Item, after: string): "vcpu" | "guest" | null {
  return (
    choice(ctx, item, RATE_SCOPES, `${after} … per`, item, {
      unknown: "rate scope",
      expected: "`vcpu` or `guest`",
    }) ?? null
  );
}

function arrivalText(arrival: Arrival): string {
  switch (arrival.kind) {
    case "poisson":
      // Called before a per-guest rate is divided by the vCPUs (lowerGuest): the file's figure.
      return `rate ${formatRate(arrival.ratePerSec)}${arrival.per === undefined ? "" : ` per ${arrival.per === "guest" ? "guest" : "vCPU"}`}`;
    case "periodic":
      return `every ${formatSeconds(arrival.periodSec)}`;
    case "tickless":
      return `tickless, ${formatRate(arrival.hz).replace("/s", "Hz")} while busy`;
  }
}

function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${+(perSecond / 1e6).toPrecision(3)}M/s`;
  if (perSecond >= 1e3) return `${+(perSecond / 1e3).toPrecision(3)}k/s`;
  return `${+perSecond.toPrecision(3)}/s`;
}

function formatSeconds(seconds: number): string {
  if (seconds >= 1) return `${+seconds.toPrecision(3)}s`;
  if (seconds >= 1e-3) return `${+(seconds * 1e3).toPrecision(3)}ms`;
  if (seconds >= 1e-6) return `${+(seconds * 1e6).toPrecision(3)}us`;
  return `${+(seconds * 1e9).toPrecision(3)}ns`;
}
