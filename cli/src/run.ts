/**
 * `runCli(argv, io)` is the whole `trapline` program, free of process globals so tests run it
 * in-process; node.ts binds it to the real process and main.ts is the bundle's entry.
 *
 * Commands live in their own modules and are listed in COMMANDS below: add yours with one
 * import and one entry (the simulator's `simulate`, the language server's `lsp`).
 */
import { parseArgs } from "node:util";
import packageJson from "../../package.json";
import { calibrateCommand } from "./calibrate";
import { checkCommand } from "./check";
import { type CliIO, type Command, EXIT_OK, EXIT_USAGE, UsageError } from "./command";
import { estimateCommand } from "./estimate";
import { inferCommand } from "./infer";
import { lspCommand } from "./lsp";
import { simulateCommand } from "./simulate";
import { traceCommand } from "./trace";

export const VERSION: string = packageJson.version;

/** The command table, in the order `--help` lists them. */
export const COMMANDS: Command[] = [
  checkCommand,
  estimateCommand,
  simulateCommand,
  traceCommand,
  calibrateCommand,
  inferCommand,
  lspCommand,
];

function commandByName(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export function usageText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length));
  const lines = [
    "Usage: trapline COMMAND [OPTIONS]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    "",
    "Options:",
    "  -h, --help     show help (also `trapline COMMAND --help`)",
    "  -v, --version  print the version",
    "",
    "Exit status: 0 success, 1 diagnostics with errors or a violated budget, 2 bad usage or an unreadable file.",
  ];
  return `${lines.join("\n")}\n`;
}

function commandHelp(command: Command): string {
  return `Usage: trapline ${command.usage}\n\n${command.summary}\n${command.help ? `\n${command.help}\n` : ""}`;
}

/**
 * parseArgs' error in one line. Its "argument is ambiguous" (a value that starts with `-`, such
 * as `--duration -1s`) names neither the value nor the fix: say both.
 */
function parseArgsMessage(error: unknown, args: string[]): string {
  const m = /^Option '(-[^']+)' argument is ambiguous/.exec(firstLine(error));
  const option = m?.[1];
  const value = option === undefined ? undefined : args[args.indexOf(option) + 1];
  if (option === undefined || value === undefined) return firstLine(error);
  return `${option} ${value}: the value starts with '-', so it reads as an option; write ${option}=${value} to pass it`;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0]!;
}

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    if (name === undefined) {
      io.stderr(usageText());
      return EXIT_USAGE;
    }
    io.stdout(usageText());
    return EXIT_OK;
  }
  if (name === "-v" || name === "--version" || name === "version") {
    io.stdout(`trapline ${VERSION}\n`);
    return EXIT_OK;
  }
  const command = commandByName(name);
  if (!command) {
    io.stderr(
      `trapline: unknown command '${name}' (commands: ${COMMANDS.map((c) => c.name).join(", ")}; see trapline --help)\n`,
    );
    return EXIT_USAGE;
  }
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    io.stderr(
      `trapline ${command.name}: ${parseArgsMessage(error, rest)} (usage: trapline ${command.usage})\n`,
    );
    return EXIT_USAGE;
  }
  if (args.values.help) {
    io.stdout(commandHelp(command));
    return EXIT_OK;
  }
  try {
    return await command.run({ values: args.values, positionals: args.positionals }, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`trapline ${command.name}: ${error.message}\n`);
      return EXIT_USAGE;
    }
    // A bug in Trapline: still one line, never a stack trace (TRAPLINE_DEBUG is for developers).
    io.stderr(`trapline ${command.name}: internal error: ${firstLine(error)}\n`);
    return EXIT_USAGE;
  }
}
