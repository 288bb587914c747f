"""The documented Leadterra endpoints, with their codes and no-op rules."""

from __future__ import annotations

import secrets
from typing import Any

from .routes import ApiError
from .store import Campaigns, new_campaign, transition_time

__all__ = ["create", "leads", "pause", "pools", "public", "resume", "start", "stats", "stats_of"]

MAX_LEADS_PER_REQUEST = 10_000


def _campaign(campaigns: Campaigns, campaign_id: str) -> dict[str, Any]:
    campaign = campaigns.get(campaign_id)
    if campaign is None:
        raise ApiError(404, "campaign_not_found", f"no campaign {campaign_id} in this workspace")
    return campaign


def resume(campaign: dict[str, Any]) -> None:
    """Draft or paused to running: a new ``startedAt``, and the next step goes out to every lead."""
    campaign.update(
        status="running",
        pausedAt=None,
        startedAt=transition_time(campaign.get("startedAt")),
        sent=int(campaign.get("sent", 0)) + len(campaign.get("leads", [])),
    )


def public(campaign: dict[str, Any]) -> dict[str, Any]:
    """A campaign as the API shows it: leads counted, not listed."""
    shown = {k: v for k, v in campaign.items() if k not in ("leads", "sent")}
    shown["totalEnrolled"] = len(campaign.get("leads", []))
    return shown


def stats_of(campaign: dict[str, Any]) -> dict[str, Any]:
    """The stats body for a campaign. Like the real API's, it has no status field."""
    enrolled = len(campaign.get("leads", []))
    sent = int(campaign.get("sent", 0))
    held = enrolled if campaign["status"] == "paused" and sent else 0
    return {
        "campaignId": campaign["id"],
        "totalEnrolled": enrolled,
        "sent": sent,
        "delivered": sent,
        "bounced": 0,
        "replied": 0,
        "queued": held,
        "openRate": 0.0,
        "replyRate": 0.0,
    }


def create(ctx: Any, _id: Any, body: Any) -> tuple[int, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
        raise ApiError(400, "invalid_request", "name is required")
    steps = body.get("sequenceSteps", [])
    if not isinstance(steps, list) or not all(
        isinstance(s, dict) and isinstance(s.get("subject"), str) for s in steps
    ):
        raise ApiError(400, "invalid_request", "sequenceSteps must be a list of steps with a subject")
    campaign = new_campaign("camp_" + secrets.token_hex(6), leads=0)
    campaign.update(name=body["name"], sequenceSteps=steps)
    with ctx.store.transaction() as campaigns:
        campaigns.put(campaign)
    return 200, public(campaign)


def leads(ctx: Any, campaign_id: str, body: Any) -> tuple[int, Any]:
    given = body.get("leads") if isinstance(body, dict) else None
    if not isinstance(given, list):
        raise ApiError(400, "invalid_request", "leads must be a list")
    if len(given) > MAX_LEADS_PER_REQUEST:
        raise ApiError(400, "invalid_request", f"at most {MAX_LEADS_PER_REQUEST} leads per request")
    errors = [
        {"index": i, "message": "email must be a string with an @"}
        for i, lead in enumerate(given)
        if not isinstance(lead, dict) or not isinstance(lead.get("email"), str) or "@" not in lead["email"]
    ]
    with ctx.store.transaction() as campaigns:
        campaign = _campaign(campaigns, campaign_id)
        if errors:
            payload = {"error": {"code": "invalid_request", "message": "some leads are invalid"}}
            return 422, {**payload, "errors": errors}
        by_email = {lead["email"]: lead for lead in campaign["leads"]}
        for lead in given:
            by_email[lead["email"]] = {**by_email.get(lead["email"], {}), **lead}
        campaign["leads"] = list(by_email.values())
        campaigns.put(campaign)
        return 200, {"campaignId": campaign_id, "totalEnrolled": len(campaign["leads"])}


def start(ctx: Any, campaign_id: str, _body: Any) -> tuple[int, Any]:
    with ctx.store.transaction() as campaigns:
        campaign = _campaign(campaigns, campaign_id)
        if campaign["status"] == "draft":
            if not campaign.get("leads"):
                raise ApiError(400, "no_leads_enrolled", "the campaign has no enrolled leads")
            if not campaign.get("sequenceSteps"):
                raise ApiError(400, "no_sequence_steps", "the campaign has no sequence steps")
        if campaign["status"] != "running":
            resume(campaign)
            campaigns.put(campaign)
        return 200, {"id": campaign["id"], "status": campaign["status"], "startedAt": campaign["startedAt"]}


def pause(ctx: Any, campaign_id: str, _body: Any) -> tuple[int, Any]:
    with ctx.store.transaction() as campaigns:
        campaign = _campaign(campaigns, campaign_id)
        if campaign["status"] == "running":
            campaign.update(status="paused", pausedAt=transition_time(campaign.get("pausedAt")))
            campaigns.put(campaign)
        return 200, {"id": campaign["id"], "status": campaign["status"], "pausedAt": campaign.get("pausedAt")}


def stats(ctx: Any, campaign_id: str, _body: Any) -> tuple[int, Any]:
    with ctx.store.transaction(write=False) as campaigns:
        return 200, stats_of(_campaign(campaigns, campaign_id))


def pools(ctx: Any, _id: Any, _body: Any) -> tuple[int, Any]:
    """Capacity per pool, in either of the documentation's spellings (the admin API's
    ``poolSpelling``): ``senderPools``/``remainingToday`` or ``pools``/``remainingVolume``."""
    runtime = ctx.runtime
    with runtime.lock:
        key, field = (
            ("senderPools", "remainingToday")
            if runtime.pool_spelling == "senderPools"
            else ("pools", "remainingVolume")
        )
        pools = [{"id": p["id"], "name": p["name"], field: p["remaining"]} for p in runtime.sender_pools]
    return 200, {key: pools}
