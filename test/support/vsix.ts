/**
 * .vsix files for end-to-end tests: the real Trapline extension (built on demand, once per test
 * process, with `npm run package`) and small fixture extensions packaged from a folder.
 */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { artifactPath, REPO_ROOT } from "./artifacts";

const execFileAsync = promisify(execFile);
const VSCE = join(REPO_ROOT, "node_modules", ".bin", "vsce");

let traplineVsix: Promise<string> | undefined;

/**
 * Packages the current tree (production build) to test-artifacts/vsix/trapline-test.vsix and
 * returns its path. Runs once per test process; set TRAPLINE_VSIX to use a prebuilt file.
 */
export function ensureTraplineVsix(): Promise<string> {
  const prebuilt = process.env.TRAPLINE_VSIX;
  if (prebuilt) return Promise.resolve(prebuilt);
  traplineVsix ??= (async () => {
    const out = artifactPath("vsix", "trapline-test.vsix");
    try {
      await execFileAsync(process.execPath, [join(REPO_ROOT, "scripts", "package.mjs"), `--out=${out}`], {
        cwd: REPO_ROOT,
        timeout: 300_000,
      });
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      throw new Error(`npm run package failed:\n${stdout ?? ""}${stderr ?? ""}`);
    }
    return out;
  })();
  return traplineVsix;
}

/**
 * Writes `files` (path → content) into `dir` together with a package.json made from `manifest`,
 * a LICENSE and a README, and packages it with vsce. Returns the .vsix path.
 */
export async function packageFixtureExtension(
  dir: string,
  manifest: Record<string, unknown>,
  files: Record<string, string> = {},
): Promise<string> {
  const all: Record<string, string> = {
    "package.json": JSON.stringify({ version: "0.0.1", license: "MIT", ...manifest }, null, 2),
    LICENSE: "MIT\n",
    "README.md": `# ${String(manifest.name)}\n\nA test fixture extension.\n`,
    ...files,
  };
  for (const [path, content] of Object.entries(all)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  const out = join(dir, `${String(manifest.name)}.vsix`);
  try {
    await execFileAsync(
      VSCE,
      ["package", "--no-dependencies", "--allow-missing-repository", "--skip-license", "--out", out],
      { cwd: dir, timeout: 120_000 },
    );
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`vsce package of fixture ${dir} failed:\n${stdout ?? ""}${stderr ?? ""}`);
  }
  return out;
}

/** Names of the files inside a .vsix (a zip), read from its central directory. */
export function vsixEntries(vsixPath: string): string[] {
  const zip = readFileSync(vsixPath);
  // End of central directory record: signature 0x06054b50, at least 22 bytes from the end.
  let eocd = -1;
  for (let offset = zip.length - 22; offset >= Math.max(0, zip.length - 22 - 0xffff); offset--) {
    if (zip.readUInt32LE(offset) === 0x06054b50) {
      eocd = offset;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${vsixPath} is not a zip file`);
  const count = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  const names: string[] = [];
  for (let index = 0; index < count; index++) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) throw new Error(`${vsixPath}: bad central directory entry`);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    names.push(zip.toString("utf8", offset + 46, offset + 46 + nameLength));
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return names;
}
