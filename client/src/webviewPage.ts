/**
 * The HTML shell of a Trapline webview page (the timeline and the sweep panels): one stylesheet,
 * one nonce'd script and a `<main>` the page's bundle fills, under the panel's own CSP.
 */
export function webviewPage(page: {
  csp: string;
  style: string;
  script: string;
  nonce: string;
  title: string;
  /** The `<main>` element's attributes, e.g. `id="trapline-sweep"`. */
  main: string;
}): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${page.csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${page.style}">
<title>${page.title}</title>
</head>
<body>
<main ${page.main}></main>
<script nonce="${page.nonce}" src="${page.script}"></script>
</body>
</html>`;
}
