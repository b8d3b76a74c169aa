"""How a round status's breakdowns are named and ordered, for the console and the bot alike."""

from __future__ import annotations

from collector.segments import status_label, status_order


def test_segment_values_are_named_for_people() -> None:
    assert status_label("income_band", "under_10k") == "Under £10k"
    assert status_label("org_type", "tenants_residents") == "Tenants' and residents' group"
    assert status_label("is_member", "not a member") == "Not members"
    assert status_label("district", "Epping Forest") == "Epping Forest"
    assert status_label("district", "not recorded") == "Not recorded"
    # A value no vocabulary knows (an old type, say) is shown as it is stored.
    assert status_label("org_type", "guild") == "Guild"


def test_segment_values_are_listed_in_the_vocabulary_s_order_unrecorded_last() -> None:
    assert status_order("income_band", ["not recorded", "over_500k", "under_10k"]) == [
        "under_10k",
        "over_500k",
        "not recorded",
    ]
    assert status_order("is_member", ["not a member", "member"]) == ["member", "not a member"]
    assert status_order("district", ["not recorded", "Harlow", "Epping Forest"]) == [
        "Epping Forest",
        "Harlow",
        "not recorded",
    ]
