"""Pulumi Deployments for the promotion project's prod stack: drift detection and a heal run.

Deployments runs only on schedules here: pull-request previews and the `up` on merge stay in the
GitOps workflow (`examples/gitops`), which never heals. So every deployment of this stack is a
scheduled one, and the deployment settings can turn heal on for all of them.

A heal only acts on drift that is in the state, and neither schedule kind on its own puts it there:
drift detection (`DriftSchedule`) is a preview-only refresh, which reports drift and saves
nothing, and a `DeploymentSchedule` of `update` runs a plain `pulumi up`, which diffs the program
against the state as last saved. So the heal is one of two things (`remediation` in config):

- `auto`: the drift schedule's auto-remediation. When drift detection finds drift, Pulumi Cloud
  runs a remediation, `pulumi up --refresh`, with this stack's settings (heal on): the same run as
  the GitOps workflow's heal job, and only when there is something to heal. Needs the Business
  Critical edition; no other schedule is created.
- `scheduled` (the default, any edition): detection stays report-only, and each hour a `refresh`
  deployment (`refreshCron`, :15) saves what Leadterra reports, then the heal `update`
  (`healCron`, :17) re-asserts `reconcile: true` campaigns and pauses whatever the refresh found
  sending. Deployments of one stack run one at a time, in the order they were queued.

Either way a paused campaign whose stats show sends is drift (refresh reports it `running`).

Incident brake: `pulumi config set pauseAll true && pulumi up` here sets `LEADTERRA_PAUSE_ALL` for
every deployment of the stack: the next heal run pauses everything and none starts anything.
The Leadterra key comes from the stack's Pulumi ESC environment `leadterra/prod` (see the
promotion README): the deployments' Pulumi token needs `open` access to it. Set that token with
`pulumi config set --secret deploymentToken pul-...` when the default one cannot (it becomes the
deployments' `PULUMI_ACCESS_TOKEN`, a secret environment variable). Each deployment runs
`pulumi install` in examples/promotion, which installs that folder's requirements.txt.
"""

import pulumi
import pulumi_pulumiservice as ps

REMEDIATIONS = ("scheduled", "auto")

config = pulumi.Config()
organization = config.require("organization")
# The stack every resource below configures.
target = {"organization": organization, "project": "leadterra-promotion", "stack": "prod"}
pause_all = config.get_bool("pauseAll") or False
remediation = config.get("remediation") or "scheduled"
if remediation not in REMEDIATIONS:
    raise ValueError(f"remediation is {remediation!r}; use one of {', '.join(REMEDIATIONS)}")

environment_variables: dict[str, pulumi.Input[str]] = {
    "LEADTERRA_HEAL": "true",
    "LEADTERRA_PAUSE_ALL": "true" if pause_all else "false",
}
token = config.get_secret("deploymentToken")
if token is not None:
    environment_variables["PULUMI_ACCESS_TOKEN"] = token

settings = ps.DeploymentSettings(
    "prod-settings",
    **target,
    # `vcs` (provider "github"): the `github` block is deprecated in pulumi-pulumiservice 1.x.
    vcs=ps.DeploymentSettingsVcsArgs(
        provider="github",
        repository=config.require("repository"),
        # Merges and pull requests are the GitOps workflow's job, run without heal.
        deploy_commits=False,
        preview_pull_requests=False,
    ),
    source_context=ps.DeploymentSettingsSourceContextArgs(
        git=ps.DeploymentSettingsGitSourceArgs(
            branch=config.get("branch") or "main",
            repo_dir="examples/promotion",
        ),
    ),
    operation_context=ps.DeploymentSettingsOperationContextArgs(
        environment_variables=environment_variables,
    ),
)

drift = ps.DriftSchedule(
    "prod-drift-detection",
    **target,
    schedule_cron=config.get("driftCron") or "*/30 * * * *",
    # auto: remediation (`pulumi up --refresh`, heal on) whenever drift is found.
    auto_remediate=remediation == "auto",
    opts=pulumi.ResourceOptions(depends_on=[settings]),
)
pulumi.export("drift_schedule", drift.id)
pulumi.export("remediation", remediation)

if remediation == "scheduled":
    # Refresh first (saved to the state), then the heal update diffs against what it saved.
    refresh = ps.DeploymentSchedule(
        "prod-refresh",
        **target,
        schedule_cron=config.get("refreshCron") or "15 * * * *",
        pulumi_operation=ps.PulumiOperation.REFRESH,
        opts=pulumi.ResourceOptions(depends_on=[settings]),
    )
    heal = ps.DeploymentSchedule(
        "prod-heal",
        **target,
        schedule_cron=config.get("healCron") or "17 * * * *",
        pulumi_operation=ps.PulumiOperation.UPDATE,
        opts=pulumi.ResourceOptions(depends_on=[settings, refresh]),
    )
    pulumi.export("refresh_schedule", refresh.id)
    pulumi.export("heal_schedule", heal.id)
