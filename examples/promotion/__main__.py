"""One program for dev, staging and prod: the campaigns are data in each stack's config.

Each stack file maps logical campaign names to that environment's campaign ids under
`leadterra-promotion:campaigns`: the name is the resource name (the same in every stack), the id is
whatever the campaign is called in that environment's Leadterra workspace. Promoting a campaign is
adding its logical name, with the next environment's id, to the next stack's file. Dev and staging
set `leadterra:baseUrl` to a sandbox; prod sets none and so talks to the live API.
"""

import pulumi

from pulumi_leadterra import CampaignState

config = pulumi.Config()
for name, entry in config.require_object("campaigns").items():
    campaign = CampaignState(
        name,
        campaign_id=entry["id"],
        status=entry.get("status", "running"),
        reconcile=entry.get("reconcile", False),
        pause_on_delete=entry.get("pause_on_delete", False),
    )
    pulumi.export(f"{name}_status", campaign.status)
