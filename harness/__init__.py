"""What the tests and the benchmarks share to drive the real protocols without a Pulumi CLI.

- ``engine``: both providers over gRPC, as the engine drives them (``python -m pulumi.dynamic``
  and the native plugin, `make_plugin`), and a model of the engine's steps across runs
  (`PluginStack`);
- ``analyzer``: the policy pack's own analyzer server, as the engine starts and drives it;
- ``programs``: example programs under ``pulumi.runtime.set_mocks``;
- ``sandbox``: the sandbox's admin API over HTTP;
- ``structs``: property bags to and from the protobuf structs both protocols carry.

Not shipped in the package: it exists to test it.
"""
