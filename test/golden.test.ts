/**
 * Golden output of the command line (issue "one home for every VT-x fact"): `check --json`,
 * `estimate --json` of every guest and `simulate --json --seed 1` of every guest, for every
 * bundled example and for a generated file. The refactors of the engine must leave these
 * byte-identical; a difference that is a bug fix is regenerated in the commit that names it:
 *
 *   UPDATE_GOLDEN=1 node --import tsx --test test/golden.test.ts
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { generateVmcs } from "../bench/generate";
import { analyze } from "../core/src/index";
import { runCliCaptured } from "./support/cliIO";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const GOLDEN = join(ROOT, "test", "golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

async function cli(argv: string[], name: string, text: string): Promise<string> {
  const { status, stdout, stderr } = await runCliCaptured([...argv, name], { [name]: text });
  return `$ trapline ${argv.join(" ")} ${name}\nstatus ${status}\n--- stdout\n${stdout}\n--- stderr\n${stderr}\n`;
}

const inputs: { name: string; text: string }[] = [
  ...readdirSync(join(ROOT, "examples"))
    .filter((f) => f.endsWith(".vmcs"))
    .sort()
    .map((f) => ({ name: f, text: readFileSync(join(ROOT, "examples", f), "utf8") })),
  // A generated file of 20 units (checks clean, every path of the analysis).
  { name: "generated-20.vmcs", text: generateVmcs(20 * 41) },
];

describe("golden CLI output", () => {
  for (const { name, text } of inputs) {
    test(name, async () => {
      const guests = [...analyze(text).program.guests.keys()];
      let out = await cli(["check", "--json"], name, text);
      for (const guest of guests) out += await cli(["estimate", "--json", "--guest", guest], name, text);
      // The generated file's guests are alike: simulate the first three.
      for (const guest of guests.slice(0, 3))
        out += await cli(
          ["simulate", "--json", "--seed", "1", "--duration", "20ms", "--guest", guest],
          name,
          text,
        );
      const file = join(GOLDEN, `${name}.txt`);
      if (UPDATE) writeFileSync(file, out);
      else assert.equal(out, readFileSync(file, "utf8"), `${name}: output differs from ${file}`);
    });
  }
});
