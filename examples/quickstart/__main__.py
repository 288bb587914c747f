"""The smallest real pulumi-leadterra program.

Before `pulumi up`, give the stack an API key (kept encrypted in the stack's config):

    pulumi config set --secret leadterra:apiKey sk_live_...

The provider reads `leadterra:apiKey` (and `leadterra:baseUrl`, if set) from stack config by
itself, so the program never touches the key. `make demo` runs this program against the local
sandbox with a test key.
"""

import pulumi

from pulumi_leadterra import CampaignState

# Hold the launch campaign running. If someone pauses it in the Leadterra dashboard, the API has
# no way to tell us, so reconcile=True re-sends the (idempotent) start on every `pulumi up`: it
# heals the pause, at the cost of one call and an "update" on every run. It is read from config
# (default true) so you can see both behaviours:
#   pulumi config set reconcile false   # a second `pulumi up` then reports no changes at all
reconcile = pulumi.Config().get_bool("reconcile")
launch = CampaignState(
    "launch",
    campaign_id="camp_demo",
    status="running",
    reconcile=True if reconcile is None else reconcile,
)

# Hold an old campaign paused. Destroying this resource would leave the campaign as it is;
# pause_on_delete=True would pause it on destroy instead.
legacy = CampaignState(
    "legacy",
    campaign_id="camp_legacy",
    status="paused",
)

# `status` is what Leadterra reported on the last call; started_at comes from the API too.
pulumi.export("launch_status", launch.status)
pulumi.export("launch_started_at", launch.started_at)
pulumi.export("legacy_status", legacy.status)
