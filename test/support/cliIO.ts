/**
 * The CLI run in memory: a `CliIO` whose files are a record and whose output is captured, as
 * the CLI tests (and the golden test) drive `runCli`. With `base` (e.g. `nodeIO`) the files
 * are the real ones and only the output is captured.
 */
import { type CliIO, runCli } from "../../cli/src/main";

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
  /** Files the command wrote, by path (in memory only). */
  written: Map<string, string>;
}

export interface CapturedIOOptions {
  /** Writes land in `files` too, so a later command reads them (calibrate --write, infer -o). */
  writeThrough?: boolean;
  /** Read and write through this binding (the real file system) instead of `files`. */
  base?: CliIO;
  /** Fields that replace the binding's (e.g. `stderrIsTTY: false`). */
  override?: Partial<CliIO>;
}

/** A CliIO over `files` (a missing path fails with ENOENT, as Node's does) that keeps what it prints. */
export class CapturedIO {
  stdout = "";
  stderr = "";
  readonly written = new Map<string, string>();
  readonly io: CliIO;

  constructor(files: Record<string, string> = {}, options: CapturedIOOptions = {}) {
    const inMemory: CliIO = {
      stdout: () => {},
      stderr: () => {},
      readFile: (path) => {
        const text = files[path];
        if (text === undefined)
          throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), {
            code: "ENOENT",
          });
        return text;
      },
      writeFile: (path, data) => {
        this.written.set(path, data);
        if (options.writeThrough === true) files[path] = data;
      },
    };
    this.io = {
      ...(options.base ?? inMemory),
      stdout: (text) => {
        this.stdout += text;
      },
      stderr: (text) => {
        this.stderr += text;
      },
      ...options.override,
    };
  }
}

/** Runs `trapline ARGV` over `files`, output captured. */
export async function runCliCaptured(
  argv: string[],
  files: Record<string, string> = {},
  options: CapturedIOOptions = {},
): Promise<CliRun> {
  const captured = new CapturedIO(files, options);
  const status = await runCli(argv, captured.io);
  return { status, stdout: captured.stdout, stderr: captured.stderr, written: captured.written };
}
