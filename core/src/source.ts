import { upperBound } from "./util/search";
/**
 * Source positions, diagnostics and fixes: the editor-free vocabulary every layer shares.
 * Spans are UTF-16 code-unit offsets into the file text (what JavaScript strings index), so the
 * core never needs to know about lines; adapters convert with {@link LineMap}.
 */

export interface Span {
  /** Offset of the first character. */
  start: number;
  /** Offset just past the last character. */
  end: number;
}

export type Severity = "error" | "warning" | "info" | "hint";

export interface RelatedInfo {
  span: Span;
  message: string;
}

export interface TextEdit {
  span: Span;
  newText: string;
}

/** A mechanical fix for a diagnostic; the language server turns it into a quick fix. */
export interface CodeFix {
  title: string;
  edits: TextEdit[];
  /** The fix an editor may apply with "auto fix" (only one per diagnostic). */
  preferred?: boolean;
}

export interface Diagnostic {
  severity: Severity;
  /** Stable code, e.g. "TL-E15" for VM-entry check E15; documented in docs/language.md. */
  code: string;
  message: string;
  span: Span;
  related?: RelatedInfo[];
  fixes?: CodeFix[];
  /** The SDM section or KVM function that states the rule. */
  reference?: string;
  /** "unnecessary" renders faded (e.g. a handler that can never run). */
  tags?: ("unnecessary" | "deprecated")[];
}

export interface Position {
  /** 0-based line. */
  line: number;
  /** 0-based UTF-16 column. */
  character: number;
}

/** Maps offsets to 0-based line/character positions and back. Built once per text. */
export class LineMap {
  /**
   * Built on first use: an analysis makes a LineMap for every text, but a clean file's
   * analysis may never map a position (the scan of a 10k-line file is a measurable share).
   */
  private starts: number[] | undefined;

  constructor(private readonly text: string) {}

  private get lineStarts(): number[] {
    if (this.starts !== undefined) return this.starts;
    const text = this.text;
    const starts = [0];
    if (text.indexOf("\r") < 0) {
      // No carriage returns: the engine's native search finds each line feed.
      for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
    } else {
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === 10 /* \n */) starts.push(i + 1);
        else if (c === 13 /* \r */) {
          if (text.charCodeAt(i + 1) === 10) i++;
          starts.push(i + 1);
        }
      }
    }
    this.starts = starts;
    return starts;
  }

  get lineCount(): number {
    return this.lineStarts.length;
  }

  positionAt(offset: number): Position {
    const clamped = Math.max(0, Math.min(offset, this.text.length));
    const starts = this.lineStarts;
    // The last line starting at or before the offset (line 0 starts at 0, so there is one).
    const line = upperBound(starts, clamped) - 1;
    return { line, character: clamped - starts[line]! };
  }

  offsetAt(position: Position): number {
    if (position.line < 0) return 0;
    if (position.line >= this.lineStarts.length) return this.text.length;
    const lineStart = this.lineStarts[position.line]!;
    const nextLineStart =
      position.line + 1 < this.lineStarts.length ? this.lineStarts[position.line + 1]! : this.text.length;
    return Math.max(lineStart, Math.min(lineStart + position.character, nextLineStart));
  }

  lineStart(line: number): number {
    return this.lineStarts[Math.max(0, Math.min(line, this.lineStarts.length - 1))]!;
  }
}
