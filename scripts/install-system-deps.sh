#!/usr/bin/env bash
# Installs the Debian packages the real-client tests need: Chromium (driven by playwright-core),
# Neovim (a second, independent LSP client) and libkrb5-dev (a native module of code-server
# builds against it). Idempotent: packages already present are skipped, and `apt-get update`
# runs at most once, only when something is missing.
set -euo pipefail

packages=(chromium neovim libkrb5-dev)
missing=()
for package in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    echo "install-system-deps: $package already installed"
  else
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-system-deps: nothing to do"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
# Another apt process (e.g. a parallel job on a shared machine) may hold the dpkg lock: wait for
# it instead of failing.
apt_options=(-o DPkg::Lock::Timeout=600 -q)
echo "install-system-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get "${apt_options[@]}" update
"${sudo_cmd[@]}" apt-get "${apt_options[@]}" install -y --no-install-recommends "${missing[@]}" </dev/null
