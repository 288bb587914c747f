"""A no-op provider plugin with the native Leadterra plugin's schema: what `pulumi` costs with the
provider's own work taken out (benchmarks/cost_bench.py measures both in the same run).

Served on the same gRPC stack as the plugin (grpc's thread-pool server, the generated servicer,
no event loop): Check echoes the inputs; Diff says nothing changed; Create returns the inputs as
the outputs, with ``campaignId`` as the id; Update returns the new inputs; Read returns what the
engine holds; Delete does nothing. No network, no settings: the stack's ``leadterra:`` config is
accepted and ignored.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc


class NoopServicer(provider_pb2_grpc.ResourceProviderServicer):  # type: ignore[misc]
    def GetPluginInfo(self, request: Any, context: Any) -> Any:  # noqa: N802 - the RPC's name
        return plugin_pb2.PluginInfo(version="0.0.1")

    def GetSchema(self, request: Any, context: Any) -> Any:  # noqa: N802
        from pulumi_leadterra.schema import SCHEMA

        return provider_pb2.GetSchemaResponse(schema=json.dumps(SCHEMA))

    def CheckConfig(self, request: Any, context: Any) -> Any:  # noqa: N802
        return provider_pb2.CheckResponse(inputs=request.news)

    def DiffConfig(self, request: Any, context: Any) -> Any:  # noqa: N802
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)

    def Configure(self, request: Any, context: Any) -> Any:  # noqa: N802
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=True)

    def Check(self, request: Any, context: Any) -> Any:  # noqa: N802
        return provider_pb2.CheckResponse(inputs=request.news)

    def Diff(self, request: Any, context: Any) -> Any:  # noqa: N802
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE, hasDetailedDiff=True)

    def Create(self, request: Any, context: Any) -> Any:  # noqa: N802
        campaign_id = request.properties.fields["campaignId"].string_value
        return provider_pb2.CreateResponse(id=campaign_id, properties=request.properties)

    def Update(self, request: Any, context: Any) -> Any:  # noqa: N802
        return provider_pb2.UpdateResponse(properties=request.news)

    def Read(self, request: Any, context: Any) -> Any:  # noqa: N802
        return provider_pb2.ReadResponse(id=request.id, properties=request.properties, inputs=request.inputs)

    def Delete(self, request: Any, context: Any) -> Any:  # noqa: N802
        return empty_pb2.Empty()

    def Cancel(self, request: Any, context: Any) -> Any:  # noqa: N802
        return empty_pb2.Empty()


def main() -> None:
    server = grpc.server(
        ThreadPoolExecutor(max_workers=64),
        options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)],
    )
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(NoopServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        pass


main()
