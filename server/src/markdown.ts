/**
 * User text in Markdown: everything the server puts into a hover, a report or any other Markdown
 * that comes from the file or the client (source text, comments included; names; the file name
 * from the URI; diagnostic messages, which quote source tokens) goes through one of these, so it
 * renders as the characters written and never as a link, an image, HTML or formatting. The
 * client renders with VS Code's (or monaco's) CommonMark renderer.
 */

/**
 * `text` as a CommonMark code span: a backtick fence one longer than the longest backtick run
 * inside (CommonMark §6.1: the span ends only at a run of the same length), padded with a space
 * when the text starts or ends with a backtick (or with a space, which the renderer would strip).
 * Line breaks become spaces (a code span is one line of a hover or a table cell). Inside a code
 * span nothing is Markdown or HTML, so no other escaping is needed.
 */
export function codeSpan(text: string): string {
  const flat = text.replace(/\r\n?|\n/g, " ");
  if (flat.length === 0) return "` `";
  let longest = 0;
  for (const run of flat.matchAll(/`+/g)) longest = Math.max(longest, run[0].length);
  const fence = "`".repeat(longest + 1);
  const pad = /^[` ]|[` ]$/.test(flat) ? " " : "";
  return `${fence}${pad}${flat}${pad}${fence}`;
}

/**
 * `text` as literal Markdown inline text: every ASCII punctuation character backslash-escaped
 * (CommonMark §2.4 allows any of them to be escaped, and an escaped one is never markup: no
 * emphasis, link, image, autolink, raw HTML, entity, table cell break), line breaks as spaces.
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/\r\n?|\n/g, " ").replace(/[!-/:-@[-`{-~]/g, (c) => `\\${c}`);
}
