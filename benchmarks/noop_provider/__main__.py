"""A no-op provider plugin with the native Leadterra plugin's schema: what `pulumi` costs with the
provider's own work taken out (benchmarks/cost_bench.py measures both in the same run).

Served on the same gRPC stack as the plugin (grpc's thread-pool server, the generated servicer,
no event loop), and with the same inputs and outputs, so that the engine's own work (diffs,
checkpoints, the language host's copies) is the same for both and the difference is the plugin's:
Check returns the inputs with the fields the plugin's check records (key fingerprint, kind and
source, endpoint, held status, the two flags' defaults); Diff says nothing changed; Create returns
them as the outputs with a ``startedAt``, ``campaignId`` as the id; Update returns the new inputs;
Read returns what the engine holds with a ``stats`` object of the API's shape; Delete does
nothing. No network: the ``leadterra:`` config gives the fingerprint and the endpoint, once.

With ``LEADTERRA_NOOP_GET=1`` in its environment, Read sends the one request the plugin's read
sends (``GET .../stats`` with the key as a Bearer token, through a shared urllib3 pool) and
stores the answer as ``stats``: the floor of any provider that must read, which `make bench`'s
protocol section measures the plugin's reads against.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

#: A read's ``stats``, as the API answers (all zero: the no-op observes nothing).
_STATS = dict.fromkeys(
    ("bounced", "delivered", "openRate", "queued", "replied", "replyRate", "sent", "totalEnrolled"), 0
)


class NoopServicer(provider_pb2_grpc.ResourceProviderServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self._recorded: dict[str, Any] = {}
        self._get: Any = None  # with LEADTERRA_NOOP_GET=1: (urllib3 pool manager, headers)

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
        key = request.variables.get("leadterra:config:apiKey", "")
        self._recorded = {
            "apiKeyFingerprint": "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:16],
            "apiKeyKind": "test",
            "apiKeySource": "config",
            "endpoint": request.variables.get("leadterra:config:baseUrl", ""),
            "pauseOnDelete": False,
            "reconcile": False,
        }
        if os.environ.get("LEADTERRA_NOOP_GET") == "1":
            import urllib3

            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            self._get = (urllib3.PoolManager(maxsize=64), headers)
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=True)

    def Check(self, request: Any, context: Any) -> Any:  # noqa: N802
        inputs = struct_pb2.Struct()
        inputs.update(self._recorded)
        inputs.MergeFrom(request.news)
        if "status" in inputs.fields:
            inputs.fields["heldStatus"].CopyFrom(inputs.fields["status"])
        return provider_pb2.CheckResponse(inputs=inputs)

    def Diff(self, request: Any, context: Any) -> Any:  # noqa: N802
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE, hasDetailedDiff=True)

    def Create(self, request: Any, context: Any) -> Any:  # noqa: N802
        campaign_id = request.properties.fields["campaignId"].string_value
        outputs = struct_pb2.Struct()
        outputs.CopyFrom(request.properties)
        del outputs.fields["apiKeyKind"]  # the plugin records it in the inputs only, for the policy pack
        outputs["startedAt"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        return provider_pb2.CreateResponse(id=campaign_id, properties=outputs)

    def Update(self, request: Any, context: Any) -> Any:  # noqa: N802
        return provider_pb2.UpdateResponse(properties=request.news)

    def Read(self, request: Any, context: Any) -> Any:  # noqa: N802
        outputs = struct_pb2.Struct()
        outputs.CopyFrom(request.properties)
        if self._get is None:
            outputs["stats"] = {"campaignId": request.id, **_STATS}
        else:
            manager, headers = self._get
            url = f"{self._recorded['endpoint']}/v1/campaigns/{request.id}/stats"
            reply = manager.request("GET", url, headers=headers, timeout=30.0, retries=False)
            outputs["stats"] = json.loads(reply.data)
        return provider_pb2.ReadResponse(id=request.id, properties=outputs, inputs=request.inputs)

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
