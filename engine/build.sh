#!/usr/bin/env bash
# `make engine`: leave a Pulumi CLI of the pinned version (.pulumi.version) and the language
# hosts this project uses (python, yaml, go, nodejs) in .pulumi-cli/bin, by the first way that
# works:
#   1. already there, or on PATH, at the pinned version: used as it is (seconds);
#   2. the official release, downloaded and checked against Pulumi's published checksums
#      (skipped when PULUMI_ENGINE_FROM=build, as CI and offline machines set it);
#   3. built from Pulumi's Go modules at that version (minutes the first time; Go's caches make
#      the next build fast). The build modules are engine/cli (the CLI and our Python, Go and
#      Node.js language hosts: Pulumi's own are nested modules the Go module proxy does not
#      serve) and engine/yaml.
# Any failure ends with one sentence saying what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VERSION=$(tr -d ' \n' < .pulumi.version)
BIN="$ROOT/.pulumi-cli/bin"
FROM="${PULUMI_ENGINE_FROM:-auto}"
HOSTS=(pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python pulumi-language-yaml
    pulumi-language-go pulumi-language-nodejs pulumi-resource-pulumi-nodejs)

say() { printf 'make engine: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }

complete() {  # the CLI at the pinned version, with every host beside it
    local dir=$1
    [[ -x "$dir/pulumi" ]] || return 1
    [[ "$("$dir/pulumi" version 2>/dev/null)" == "v$VERSION" ]] || return 1
    local host
    for host in "${HOSTS[@]}"; do [[ -x "$dir/$host" ]] || return 1; done
}

# Our own hosts (engine/cli) are rebuilt when their sources changed since they were built here
# (the stamp holds the sources' hash), so a clone that pulls a new host RPC gets it.
STAMP="$BIN/.hosts-source"
hosts_hash() {
    (cd engine/cli && find . -name '*.go' -o -name go.mod -o -name go.sum | LC_ALL=C sort \
        | xargs sha256sum | sha256sum | cut -d' ' -f1)
}
build_hosts() {
    local sdk_version="github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$VERSION" host
    for host in pulumi-language-python pulumi-language-go pulumi-language-nodejs; do
        say "building $host"
        (cd "$ROOT/engine/cli" && go build -trimpath -ldflags "-s -w -X $sdk_version" -o "$BIN/$host" "./$host") \
            || fail "building $host from engine/cli failed (see the go output above)"
    done
    hosts_hash > "$STAMP"
}

if complete "$BIN"; then
    if [[ -f "$STAMP" && "$(cat "$STAMP")" != "$(hosts_hash)" ]] && command -v go >/dev/null; then
        say "engine/cli changed since our language hosts were built: rebuilding them"
        build_hosts
    fi
    say "Pulumi CLI v$VERSION and its language hosts are ready in .pulumi-cli/bin"
    exit 0
fi
mkdir -p "$BIN"

on_path=$(command -v pulumi || true)
if [[ -n "$on_path" && "$on_path" != "$BIN/pulumi" ]] && complete "$(dirname "$(readlink -f "$on_path")")"; then
    dir=$(dirname "$(readlink -f "$on_path")")
    for tool in pulumi "${HOSTS[@]}"; do ln -sf "$dir/$tool" "$BIN/$tool"; done
    say "using the Pulumi CLI v$VERSION found on PATH ($dir)"
    exit 0
fi

if [[ "$FROM" != build ]] && command -v curl >/dev/null; then
    base="https://get.pulumi.com/releases/sdk"
    archive="pulumi-v$VERSION-linux-x64.tar.gz"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    say "downloading the Pulumi CLI v$VERSION release"
    if curl -fsSL --connect-timeout 5 --max-time 300 -o "$tmp/$archive" "$base/$archive" \
        && curl -fsSL --connect-timeout 5 --max-time 60 -o "$tmp/sums" "$base/pulumi-$VERSION-checksums.txt"; then
        (cd "$tmp" && grep " $archive\$" sums | sha256sum -c --quiet -) \
            || fail "the downloaded release does not match Pulumi's published checksum; nothing was installed"
        tar -xzf "$tmp/$archive" -C "$tmp"
        cp "$tmp"/pulumi/* "$BIN"/
        complete "$BIN" && { say "installed the Pulumi CLI v$VERSION release in .pulumi-cli/bin"; exit 0; }
        say "the release lacks a language host this project uses; building instead"
    else
        say "the release could not be downloaded; building it from Pulumi's Go modules instead"
    fi
fi

command -v go >/dev/null \
    || fail "no Pulumi CLI v$VERSION on PATH or in .pulumi-cli/bin, no release download, and no Go to build one: install Go 1.25 or newer (or the Pulumi CLI v$VERSION), then run make engine again"

pinned=$(cd engine/cli && go list -m -f '{{.Version}}' github.com/pulumi/pulumi/pkg/v3)
[[ "$pinned" == "v$VERSION" ]] \
    || fail "engine/cli/go.mod builds pkg/v3 $pinned but .pulumi.version says $VERSION: run 'go get github.com/pulumi/pulumi/pkg/v3@v$VERSION github.com/pulumi/pulumi/sdk/v3@v$VERSION' in engine/cli"

build() {  # module dir, output name, package, version variable
    local module=$1 out=$2 package=$3 ldflags=$4
    say "building $out (the first build downloads and compiles for several minutes)"
    (cd "$ROOT/$module" && go build -trimpath -ldflags "-s -w $ldflags" -o "$BIN/$out" "$package") \
        || fail "building $out from the Go modules in $module failed (see the go output above)"
}
sdk_version="github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$VERSION"
build engine/cli pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "-X $sdk_version"
build_hosts
yaml_version=$(cd engine/yaml && go list -m -f '{{.Version}}' github.com/pulumi/pulumi-yaml)
build engine/yaml pulumi-language-yaml github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml \
    "-X github.com/pulumi/pulumi-yaml/pkg/version.Version=$yaml_version"

# The scripts the CLI's release ships beside the binaries live in the sdk module's files.
sdk_dir=$(cd engine/cli && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$BIN/"
install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$BIN/"
# The Node.js host runs programs with the @pulumi/pulumi package in the program's node_modules;
# this script (dynamic providers) is the only Node.js file the release ships beside it.
install -m 0755 "$sdk_dir/nodejs/dist/pulumi-resource-pulumi-nodejs" "$BIN/"

complete "$BIN" || fail "the build finished but .pulumi-cli/bin is incomplete; run make engine again"
say "built the Pulumi CLI v$VERSION with its python, yaml, go and nodejs language hosts in .pulumi-cli/bin"
