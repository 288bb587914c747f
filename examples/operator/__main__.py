"""The promotion project's prod stack, run continuously by the Pulumi Kubernetes Operator (v2).

The operator's `Stack` object re-runs `pulumi up --refresh` every `resyncFrequencySeconds`, even
when the commit has not changed (`continueResyncOnCommitMatch`), with `LEADTERRA_HEAL` on: every
resync is a heal run. It re-asserts `reconcile: true` campaigns and pauses any paused campaign that
refresh infers is sending. The Leadterra key reaches it from a Kubernetes Secret this program
creates from secret stack config (`leadterraApiKey`).

Incident brake: `pulumi config set pauseAll true && pulumi up` on this project; the Stack object
changes, the operator runs at once with `LEADTERRA_PAUSE_ALL=true`, and every resync after that
holds every campaign paused and starts nothing until it is set back to false.
"""

import pulumi
import pulumi_kubernetes as k8s

#: The operator refuses less than 60 s. 900 s is our default: each resync costs one GET per
#: campaign (refresh) and one idempotent call per `reconcile: true` campaign (heal), about 200
#: requests a day per campaign at 15 minutes, while a campaign paused by mistake (not during an
#: incident: that is what the brake is for) is running again within a quarter of an hour.
MIN_RESYNC_SECONDS = 60
DEFAULT_RESYNC_SECONDS = 900

config = pulumi.Config()
organization = config.require("organization")
namespace = config.get("namespace") or "leadterra"
resync = config.get_int("resyncFrequencySeconds") or DEFAULT_RESYNC_SECONDS
if resync < MIN_RESYNC_SECONDS:
    raise ValueError(
        f"resyncFrequencySeconds is {resync}; the operator needs at least {MIN_RESYNC_SECONDS} seconds"
    )
pause_all = config.get_bool("pauseAll") or False

API_KEY_SECRET = "leadterra-api-key"
api_key = k8s.core.v1.Secret(
    API_KEY_SECRET,
    metadata={"name": API_KEY_SECRET, "namespace": namespace},
    string_data={"apiKey": config.require_secret("leadterraApiKey")},
)

stack = k8s.apiextensions.CustomResource(
    "leadterra-prod",
    api_version="pulumi.com/v1",
    kind="Stack",
    metadata={"name": "leadterra-prod", "namespace": namespace},
    spec={
        "stack": f"{organization}/leadterra-promotion/prod",
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
        "envRefs": {
            "PULUMI_ACCESS_TOKEN": {
                "type": "Secret",
                "secret": {"name": "pulumi-api-secret", "key": "accessToken"},
            },
            "LEADTERRA_API_KEY": {
                "type": "Secret",
                "secret": {"name": API_KEY_SECRET, "key": "apiKey"},
            },
            "LEADTERRA_HEAL": {"type": "Literal", "literal": {"value": "true"}},
            "LEADTERRA_PAUSE_ALL": {
                "type": "Literal",
                "literal": {"value": "true" if pause_all else "false"},
            },
        },
    },
    opts=pulumi.ResourceOptions(depends_on=[api_key]),
)

pulumi.export("stack_object", "leadterra-prod")
