"""Property-based tests: only safe campaign ids get through check, and never into another path."""

from __future__ import annotations

import os
import string
from unittest.mock import patch

from hypothesis import given
from hypothesis import strategies as st

from pulumi_leadterra import CampaignStateProvider
from pulumi_leadterra.lifecycle import campaign_id_problem
from pulumi_leadterra.settings import base_url_problem

ALLOWED = string.ascii_letters + string.digits + "_-"
valid_ids = st.text(alphabet=ALLOWED, min_size=1, max_size=128)


@given(valid_ids)
def test_valid_ids_pass(campaign_id: str) -> None:
    assert campaign_id_problem(campaign_id) is None


@given(st.text(min_size=0, max_size=200))
def test_any_other_text_fails(campaign_id: str) -> None:
    ok = 1 <= len(campaign_id) <= 128 and all(c in ALLOWED for c in campaign_id)
    assert (campaign_id_problem(campaign_id) is None) == ok


@given(valid_ids, st.sampled_from(list("/.?#% \n\t\\&=:@")), st.integers(min_value=0, max_value=128))
def test_one_bad_character_anywhere_fails(campaign_id: str, bad: str, where: int) -> None:
    polluted = campaign_id[:where] + bad + campaign_id[where:]
    assert campaign_id_problem(polluted) is not None


@given(st.one_of(st.integers(), st.none(), st.booleans(), st.lists(st.text()), st.floats()))
def test_non_strings_fail(value: object) -> None:
    assert campaign_id_problem(value) is not None


@given(st.text(max_size=300))
def test_check_reports_every_bad_id_on_campaign_id_only(campaign_id: str) -> None:
    # Outside the engine the provider reads the environment: give it a clean one, so that a
    # LEADTERRA_* variable on the machine running the tests cannot change the outcome.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEADTERRA_")}
    with patch.dict(os.environ, clean, clear=True):
        provider = CampaignStateProvider()
        result = provider.check({}, {"campaign_id": campaign_id, "api_key": "sk_test_x"})
    failing = [f.property for f in result.failures]
    assert failing == ([] if campaign_id_problem(campaign_id) is None else ["campaign_id"])


_URL_PARTS = st.sampled_from(
    [
        "",
        "http://127.0.0.1:4545",
        "https://app.leadterra.co",
        "https://app.leadterra.co/",
        "https://h/v1",
        "http://example.com",
        "https://u:p@h",
        "https://h?x=1",
        "https://h#f",
        "ftp://h",
        "https://h\\@x",
        " ",
    ]
)


@given(st.one_of(_URL_PARTS, st.text(max_size=40), st.integers(), st.booleans()))
def test_check_reports_a_bad_base_url_input_on_base_url_and_records_a_good_ones_endpoint(url: object) -> None:
    # Check validates the base_url input once and records where the calls go: a failure on
    # base_url exactly when the input is refused, and an endpoint exactly when it is not.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEADTERRA_")}
    with patch.dict(os.environ, clean, clear=True):
        provider = CampaignStateProvider()
        result = provider.check({}, {"campaign_id": "camp_1", "api_key": "sk_test_x", "base_url": url})
    refused = not isinstance(url, str) or base_url_problem(url) is not None
    assert [f.property for f in result.failures] == (["base_url"] if refused else [])
    if refused:
        assert "endpoint" not in result.inputs
    else:
        assert isinstance(url, str) and result.inputs["endpoint"] == url.rstrip("/")
