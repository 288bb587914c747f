"""One program for dev, staging and prod: the campaigns are data in each stack's config.

Each stack file lists its campaigns under `leadterra-promotion:campaigns`; promoting a campaign is
adding its line to the next stack's file. Dev and staging set `leadterra:baseUrl` to a sandbox;
prod sets none and so talks to the live API.
"""

import pulumi

from pulumi_leadterra import CampaignState

config = pulumi.Config()
for entry in config.require_object("campaigns"):
    campaign = CampaignState(
        # The resource name is the campaign id: stable across stacks, and one resource per campaign.
        entry["id"],
        campaign_id=entry["id"],
        status=entry.get("status", "running"),
        reconcile=entry.get("reconcile", False),
        pause_on_delete=entry.get("pause_on_delete", False),
    )
    pulumi.export(f"{entry['id']}_status", campaign.status)
