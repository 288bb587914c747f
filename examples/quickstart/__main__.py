"""The smallest real pulumi-leadterra program.

Run it against the local sandbox first (see the README's quickstart): a test key and the
sandbox's URL in stack config,

    pulumi config set --secret leadterra:apiKey sk_test_...
    pulumi config set leadterra:baseUrl http://127.0.0.1:8787

The provider reads `leadterra:apiKey` (and `leadterra:baseUrl`) from stack config by itself, so
the program never touches the key. `make demo` runs this program against the local sandbox.
"""

import pulumi

from pulumi_leadterra import CampaignState

# Hold the launch campaign running, owned by Git (reconcile=True). Everyday runs (pull-request
# previews, the up on merge) leave a pause made in the Leadterra dashboard alone and make no
# request at all; a run with `leadterra:heal` set (a scheduled job) re-sends the idempotent start
# and resumes it. `leadterra:pauseAll` (the incident brake) holds it paused whatever it says here.
launch = CampaignState(
    "launch",
    campaign_id="camp_demo",
    status="running",
    reconcile=True,
)

# Hold an old campaign paused. Destroying this resource would leave the campaign as it is;
# pause_on_delete=True would pause it on destroy instead.
legacy = CampaignState(
    "legacy",
    campaign_id="camp_legacy",
    status="paused",
)

# `status` is what Leadterra reported on the last call; started_at comes from the API too.
# Export only outputs that always have a value: one that is still unset (healed_at before any
# heal, drift, stats before a refresh) is absent from a dynamic resource's state, and Pulumi's
# Python SDK shows an absent output as [unknown] in every preview.
pulumi.export("launch_status", launch.status)
pulumi.export("launch_started_at", launch.started_at)
pulumi.export("launch_held_status", launch.held_status)
pulumi.export("legacy_status", legacy.status)
