#!/usr/bin/env bash
# `make plugin`: the native plugin as Pulumi installs plugins, one archive per platform the
# engine asks for (the bytes are the same: the plugin is Python), in dist/:
#   pulumi-resource-leadterra-v<version>-<os>-<arch>.tar.gz
# Each holds PulumiPlugin.yaml (runtime python), __main__.py, the package's wheel and a
# requirements.txt naming it. `pulumi plugin install resource leadterra <version> --file A`
# unpacks it and installs the requirements into a virtualenv of the plugin's own (venv/), so a
# user of any language needs no clone. Releases attach these archives, where the schema's
# pluginDownloadURL sends the engine.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
version=$("$python" -c 'from pulumi_leadterra import __version__; print(__version__)')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m build --wheel --outdir "$work/wheel" . > "$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; echo "make plugin: building the wheel failed" >&2; exit 1; }
wheel=$(basename "$work"/wheel/*.whl)
mkdir -p "$work/plugin" dist
cp "$work/wheel/$wheel" provider/__main__.py "$work/plugin/"
cat > "$work/plugin/PulumiPlugin.yaml" <<YAML
# The Leadterra provider plugin $version. The engine runs __main__.py in venv/, which
# pulumi plugin install fills from requirements.txt.
runtime: python
YAML
printf './%s\n' "$wheel" > "$work/plugin/requirements.txt"
for platform in linux-amd64 linux-arm64 darwin-amd64 darwin-arm64; do
    archive="dist/pulumi-resource-leadterra-v$version-$platform.tar.gz"
    tar -czf "$archive" -C "$work/plugin" --sort=name --owner=0 --group=0 --mtime='2000-01-01' .
done
echo "make plugin: dist/pulumi-resource-leadterra-v$version-{linux,darwin}-{amd64,arm64}.tar.gz"
