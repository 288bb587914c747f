"""The plugin's entry point when the engine loads it from this folder (PulumiPlugin.yaml)."""

from pulumi_leadterra.plugin import main

main()
