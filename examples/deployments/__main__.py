"""Pulumi Deployments for the promotion project's prod stack: drift detection and a heal run.

Deployments runs only on schedules here: pull-request previews and the `up` on merge stay in the
GitOps workflow (`examples/gitops`), which never heals. So every deployment of this stack is a
scheduled one, and the deployment settings can turn heal on for all of them:

- drift detection (`DriftSchedule`, refresh only, no auto-remediation): every half hour by default;
  a paused campaign whose stats show sends is reported as drift (inferred `running`);
- the heal run (`DeploymentSchedule`, `pulumi up`): hourly by default; re-asserts
  `reconcile: true` campaigns and pauses whatever drift detection found.

Incident brake: `pulumi config set pauseAll true && pulumi up` here sets `LEADTERRA_PAUSE_ALL` for
every deployment of the stack: the next heal run pauses everything and none starts anything.
The Leadterra key comes from the stack's Pulumi ESC environment (see the promotion README).
"""

import pulumi
import pulumi_pulumiservice as ps

config = pulumi.Config()
organization = config.require("organization")
# The stack every resource below configures.
target = {"organization": organization, "project": "leadterra-promotion", "stack": "prod"}
pause_all = config.get_bool("pauseAll") or False

settings = ps.DeploymentSettings(
    "prod-settings",
    **target,
    github=ps.DeploymentSettingsGithubArgs(
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
        environment_variables={
            "LEADTERRA_HEAL": "true",
            "LEADTERRA_PAUSE_ALL": "true" if pause_all else "false",
        },
    ),
)

drift = ps.DriftSchedule(
    "prod-drift-detection",
    **target,
    schedule_cron=config.get("driftCron") or "*/30 * * * *",
    auto_remediate=False,  # refresh only: the heal run below is the remediation
    opts=pulumi.ResourceOptions(depends_on=[settings]),
)

heal = ps.DeploymentSchedule(
    "prod-heal",
    **target,
    schedule_cron=config.get("healCron") or "17 * * * *",
    pulumi_operation=ps.PulumiOperation.UPDATE,
    opts=pulumi.ResourceOptions(depends_on=[settings]),
)

pulumi.export("drift_schedule", drift.id)
pulumi.export("heal_schedule", heal.id)
