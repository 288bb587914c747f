"""The promotion project's prod stack, run continuously by the Pulumi Kubernetes Operator (v2).

The operator's `Stack` object re-runs `pulumi up --refresh` every `resyncFrequencySeconds`, even
when the commit has not changed (`continueResyncOnCommitMatch`), with `LEADTERRA_HEAL` on: every
resync is a heal run. It re-asserts `reconcile: true` campaigns and pauses any paused campaign that
refresh infers is sending.

What v2 needs, all declared here (docs/migration.md in pulumi/pulumi-kubernetes-operator):
- a ServiceAccount for the stack's workspace pod, named by the Stack (`serviceAccountName`) and
  bound to the ClusterRole `system:auth-delegator`, which lets the workspace use the API server
  for its security checks;
- a workspace image: without one the operator uses `pulumi/pulumi:latest-nonroot`, so the CLI
  would change under the stack whenever a release ships. It is pinned (`workspaceImage`) to the
  CLI version this repository tests with. The workspace runs `pulumi install` in
  `examples/promotion`, which installs that folder's `requirements.txt`.

Keys: the Leadterra key comes from the promotion stack's Pulumi ESC environment
(`Pulumi.prod.yaml` lists `leadterra/prod`, whose `pulumiConfig` sets `leadterra:apiKey`), the
same as for every other run of that stack; stack config wins over `LEADTERRA_API_KEY`, so a key
put in the workspace's environment would never be used, and none is. What the cluster holds is
the operator's Pulumi access token (the Secret `pulumi-api-secret`), and that token needs write
access to the stack and `open` access to the environment `leadterra/prod` (`read` cannot resolve
its secrets, so every run would fail before it starts).

Incident brake: `pulumi config set pauseAll true && pulumi up` on this project; the Stack object
changes, the operator runs at once with `LEADTERRA_PAUSE_ALL=true`, and every resync after that
holds every campaign paused and starts nothing until it is set back to false.
"""

import pulumi
import pulumi_kubernetes as k8s

#: The operator treats anything below 60 s as 60 (the CRD's `resyncFrequencySeconds`), so a
#: smaller value here is refused rather than silently run at 60. 900 s is our default: each resync
#: costs one GET per campaign (refresh) and one idempotent call per `reconcile: true` campaign
#: (heal), about 200 requests a day per campaign at 15 minutes, while a campaign paused by mistake
#: (not during an incident: that is what the brake is for) is running again within a quarter of an
#: hour.
MIN_RESYNC_SECONDS = 60
DEFAULT_RESYNC_SECONDS = 900
#: The workspace pod's image: Pulumi's image for the CLI release this repository's real-engine
#: suite runs (.pulumi.version); `-nonroot` for the operator's default `restricted` profile. Its
#: default Python (3.13) meets the package's `requires-python` (>=3.11), and it has git, which
#: pip needs for the git requirement in examples/promotion/requirements.txt.
DEFAULT_WORKSPACE_IMAGE = "pulumi/pulumi:3.274.1-nonroot"
STACK_NAME = "leadterra-prod"

config = pulumi.Config()
organization = config.require("organization")
namespace = config.get("namespace") or "leadterra"
resync = config.get_int("resyncFrequencySeconds") or DEFAULT_RESYNC_SECONDS
if resync < MIN_RESYNC_SECONDS:
    raise ValueError(
        f"resyncFrequencySeconds is {resync}; the operator treats anything below "
        f"{MIN_RESYNC_SECONDS} as {MIN_RESYNC_SECONDS}, so set at least {MIN_RESYNC_SECONDS} seconds"
    )
pause_all = config.get_bool("pauseAll") or False

# The workspace pod's identity (operator v2 runs each stack in a pod of its own).
account = k8s.core.v1.ServiceAccount(
    STACK_NAME,
    metadata={"name": STACK_NAME, "namespace": namespace},
)
auth_delegator = k8s.rbac.v1.ClusterRoleBinding(
    f"{STACK_NAME}-auth-delegator",
    metadata={"name": f"{namespace}:{STACK_NAME}:system:auth-delegator"},
    role_ref={
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "system:auth-delegator",
    },
    subjects=[{"kind": "ServiceAccount", "name": STACK_NAME, "namespace": namespace}],
    opts=pulumi.ResourceOptions(depends_on=[account]),
)

stack = k8s.apiextensions.CustomResource(
    STACK_NAME,
    api_version="pulumi.com/v1",
    kind="Stack",
    metadata={"name": STACK_NAME, "namespace": namespace},
    spec={
        "stack": f"{organization}/leadterra-promotion/prod",
        "serviceAccountName": STACK_NAME,
        "projectRepo": config.require("projectRepo"),
        "branch": config.get("branch") or "main",
        "repoDir": "examples/promotion",
        "resyncFrequencySeconds": resync,
        # Without this a resync only runs for a new commit, and nothing would ever heal.
        "continueResyncOnCommitMatch": True,
        # Refresh first: a paused campaign whose stats show sends is reported running, then paused.
        "refresh": True,
        # Deleting this object must never destroy the stack (destroy leaves campaigns as they are,
        # but the state would be gone).
        "destroyOnFinalize": False,
        "workspaceTemplate": {"spec": {"image": config.get("workspaceImage") or DEFAULT_WORKSPACE_IMAGE}},
        "envRefs": {
            # Needs write on the stack and `open` on the ESC environment leadterra/prod.
            "PULUMI_ACCESS_TOKEN": {
                "type": "Secret",
                "secret": {"name": "pulumi-api-secret", "key": "accessToken"},
            },
            "LEADTERRA_HEAL": {"type": "Literal", "literal": {"value": "true"}},
            "LEADTERRA_PAUSE_ALL": {
                "type": "Literal",
                "literal": {"value": "true" if pause_all else "false"},
            },
        },
    },
    opts=pulumi.ResourceOptions(depends_on=[account, auth_delegator]),
)

pulumi.export("stack_object", STACK_NAME)
pulumi.export("service_account", STACK_NAME)
