#!/usr/bin/env node
// The `trapline` command. The CLI is bundled by `npm run build` (scripts/build.mjs) into
// dist/cli/trapline.js, which exports runNode().

require("../dist/cli/trapline.js").runNode();
