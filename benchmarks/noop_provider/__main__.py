"""A no-op provider plugin with the native Leadterra plugin's schema: what `pulumi up` costs
with the provider's own work taken out (benchmarks/cli_bench.py measures both in the same run).

Check echoes the inputs; Create returns them as the outputs, with ``campaignId`` as the id;
Update returns the new inputs; Diff, Read and Delete are the SDK's defaults or nothing. No
network, no settings: the stack's ``leadterra:`` config is accepted and ignored.
"""

from __future__ import annotations

import asyncio
import json
import sys

import grpc
from pulumi.provider.experimental import provider as p
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime.proto import provider_pb2_grpc

from pulumi_leadterra.schema import SCHEMA


class NoopProvider(p.Provider):
    async def get_schema(self, request: p.GetSchemaRequest) -> p.GetSchemaResponse:
        return p.GetSchemaResponse(schema=json.dumps(SCHEMA))

    async def configure(self, request: p.ConfigureRequest) -> p.ConfigureResponse:
        return p.ConfigureResponse(accept_secrets=True, supports_preview=True)

    async def create(self, request: p.CreateRequest) -> p.CreateResponse:
        campaign_id = request.properties["campaignId"].value
        return p.CreateResponse(resource_id=str(campaign_id), properties=dict(request.properties))

    async def update(self, request: p.UpdateRequest) -> p.UpdateResponse:
        return p.UpdateResponse(properties=dict(request.news))

    async def delete(self, request: p.DeleteRequest) -> None:
        return None


def main() -> None:
    # The engine puts its own flags (-v=9, --logtostderr) first and its address last.
    engine = next((arg for arg in reversed(sys.argv[1:]) if not arg.startswith("-")), "")

    async def serve() -> None:
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)])
        servicer = ProviderServicer([engine], "0.0.1", NoopProvider(), engine_address=engine)
        provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        sys.stdout.write(f"{port}\n")
        sys.stdout.flush()
        await server.wait_for_termination()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


main()
