import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { timelineToTrace } from "../cli/src/trace";
import { analyze } from "../core/src/index";
import { simulate } from "../core/src/sim/index";

interface TraceEvent {
  ph: string;
  pid: number;
  tid?: number;
  name: string;
  ts?: number;
  dur?: number;
  s?: string;
  args?: Record<string, unknown>;
}

describe("Chrome trace export", () => {
  const a = analyze(readFileSync(new URL("../examples/single-step-mov-cr3.vmcs", import.meta.url), "utf8"));
  const r = simulate(a.program, "stepping", {
    durationSec: 0.02,
    seed: 9,
    positionAt: (o) => a.lines.positionAt(o),
  });
  const trace = JSON.parse(timelineToTrace(r.timeline, { guest: "stepping" })) as {
    displayTimeUnit: string;
    traceEvents: TraceEvent[];
  };
  const events = trace.traceEvents;

  it("names the process and one thread per vCPU", () => {
    assert.ok(
      events.some((e) => e.ph === "M" && e.name === "process_name" && e.args?.name === "guest stepping"),
    );
    const threads = events.filter((e) => e.ph === "M" && e.name === "thread_name");
    assert.deepEqual(
      threads.map((e) => e.args?.name),
      ["vCPU 0"],
    );
  });

  it("writes one X slice per exit named by reason, with cycles and the source line", () => {
    const slices = events.filter((e) => e.ph === "X" && e.name === "CR_ACCESS");
    const exits = r.byReason.find((x) => x.reason === "CR_ACCESS")!.exits;
    assert.equal(slices.length, exits);
    const first = slices[0]!;
    assert.ok(typeof first.args?.cycles === "number" && (first.args.cycles as number) > 1000);
    assert.equal(first.args?.source, "mov cr3");
    const line = a.text.split("\n").findIndex((l) => l.includes("mov cr3 0x7_5000")) + 1;
    assert.equal(first.args?.line, line);
    assert.equal(first.args?.handler, "handler CR_ACCESS");
  });

  it("has injection instants and an exits/s counter", () => {
    assert.ok(events.some((e) => e.ph === "i" && e.s === "t" && e.name === "inject 0x1"));
    const counters = events.filter((e) => e.ph === "C" && e.name === "exits/s");
    assert.ok(counters.length > 0);
    assert.ok(Object.keys(counters[0]!.args!).includes("CR_ACCESS"));
  });

  it("nests slices properly on every thread (no partial overlap)", () => {
    const byThread = new Map<number, TraceEvent[]>();
    for (const e of events) if (e.ph === "X") byThread.set(e.tid!, [...(byThread.get(e.tid!) ?? []), e]);
    for (const slices of byThread.values()) {
      slices.sort((x, y) => x.ts! - y.ts! || y.dur! - x.dur!);
      const stack: TraceEvent[] = [];
      for (const s of slices) {
        while (
          stack.length > 0 &&
          stack[stack.length - 1]!.ts! + stack[stack.length - 1]!.dur! <= s.ts! + 1e-9
        )
          stack.pop();
        const parent = stack[stack.length - 1];
        if (parent)
          assert.ok(
            s.ts! + s.dur! <= parent.ts! + parent.dur! + 1e-9,
            `${s.name}@${s.ts} overlaps ${parent.name}@${parent.ts}`,
          );
        stack.push(s);
      }
    }
  });
});
