"""A launch declared ahead of time: held paused until its window opens, paused again after it.

    pulumi config set launch-window:startAt 2027-03-10T09:00:00+01:00
    pulumi config set launch-window:stopAt 2027-03-12T17:00:00+01:00   # optional

Nothing happens at startAt by itself: the first `pulumi up` at or after it starts the campaign
(a scheduled job is the clock; see docs/windows.md). `window` says where the campaign is
(before, open, closed) as of the last run that wrote it.
"""

import pulumi

from pulumi_leadterra import CampaignState

config = pulumi.Config()
spring = CampaignState(
    "spring",
    campaign_id="camp_window",
    start_at=config.require("startAt"),
    stop_at=config.get("stopAt"),
)

pulumi.export("spring_status", spring.status)
pulumi.export("spring_window", spring.window)
