/**
 * Registers the `vmcs` language with monaco: the Monarch tokenizer generated from the grammar
 * source (playground/src/monarch.ts, written by `npm run build:grammar` from
 * syntaxes/vmcs.grammar.ts, the same source as the TextMate grammar) and the extension's own
 * language-configuration.json (comments, brackets, auto-closing, indentation, word pattern),
 * converted from VS Code's JSON shape to monaco's objects.
 */
import type * as Monaco from "monaco-editor/editor/editor.api";
import languageConfigurationJson from "../../language-configuration.json";
import { VMCS_LANGUAGE_ID, vmcsMonarchLanguage } from "./monarch";

export { VMCS_LANGUAGE_ID };

interface JsonOnEnterRule {
  beforeText: string;
  afterText?: string;
  action: { indent: "none" | "indent" | "indentOutdent" | "outdent"; appendText?: string };
}

interface JsonLanguageConfiguration {
  comments: { lineComment: string; blockComment: [string, string] };
  brackets: [string, string][];
  autoClosingPairs: { open: string; close: string; notIn?: string[] }[];
  autoCloseBefore: string;
  surroundingPairs: [string, string][];
  folding: { markers: { start: string; end: string } };
  indentationRules: { increaseIndentPattern: string; decreaseIndentPattern: string };
  onEnterRules: JsonOnEnterRule[];
  wordPattern: string;
}

/** VS Code's JSON language configuration as monaco's LanguageConfiguration (strings → RegExp). */
export function toMonacoLanguageConfiguration(
  monaco: typeof Monaco,
  json: JsonLanguageConfiguration,
): Monaco.languages.LanguageConfiguration {
  const indentActions = {
    none: monaco.languages.IndentAction.None,
    indent: monaco.languages.IndentAction.Indent,
    indentOutdent: monaco.languages.IndentAction.IndentOutdent,
    outdent: monaco.languages.IndentAction.Outdent,
  } as const;
  return {
    comments: { lineComment: json.comments.lineComment, blockComment: json.comments.blockComment },
    brackets: json.brackets,
    autoClosingPairs: json.autoClosingPairs,
    autoCloseBefore: json.autoCloseBefore,
    surroundingPairs: json.surroundingPairs.map(([open, close]) => ({ open, close })),
    folding: {
      markers: { start: new RegExp(json.folding.markers.start), end: new RegExp(json.folding.markers.end) },
    },
    indentationRules: {
      increaseIndentPattern: new RegExp(json.indentationRules.increaseIndentPattern),
      decreaseIndentPattern: new RegExp(json.indentationRules.decreaseIndentPattern),
    },
    onEnterRules: json.onEnterRules.map((rule) => ({
      beforeText: new RegExp(rule.beforeText),
      ...(rule.afterText !== undefined ? { afterText: new RegExp(rule.afterText) } : {}),
      action: {
        indentAction: indentActions[rule.action.indent],
        ...(rule.action.appendText !== undefined ? { appendText: rule.action.appendText } : {}),
      },
    })),
    // monaco needs the global flag on word patterns (it scans with lastIndex).
    wordPattern: new RegExp(json.wordPattern, "g"),
  };
}

export function registerVmcsLanguage(monaco: typeof Monaco): void {
  monaco.languages.register({
    id: VMCS_LANGUAGE_ID,
    extensions: [".vmcs"],
    aliases: ["Trapline VMCS", "vmcs"],
  });
  monaco.languages.setMonarchTokensProvider(VMCS_LANGUAGE_ID, vmcsMonarchLanguage);
  monaco.languages.setLanguageConfiguration(
    VMCS_LANGUAGE_ID,
    toMonacoLanguageConfiguration(monaco, languageConfigurationJson as JsonLanguageConfiguration),
  );
}
