"""The segments funders ask results to be broken down by, with their labels (from the seeds)."""

from __future__ import annotations

from collections.abc import Iterable

ORGANISATION_TYPES: dict[str, str] = {
    "voluntary_organisation": "Voluntary organisation",
    "registered_charity": "Registered charity",
    "community_group": "Community group",
    "tenants_residents": "Tenants' and residents' group",
    "faith_group": "Faith group",
    "social_enterprise": "Social enterprise",
    "sports_arts_heritage": "Sports, arts or heritage group",
    "other": "Other",
}

INCOME_BANDS: dict[str, str] = {
    "under_10k": "Under £10k",
    "10k_100k": "£10k to £100k",
    "100k_500k": "£100k to £500k",
    "over_500k": "Over £500k",
}

# The seven Essex "broadly defined outcomes" (seed 000, Part B).
OUTCOMES: dict[str, str] = {
    "weight_management": "Weight management",
    "pre_birth_to_19": "Pre-birth to 19 health and family support",
    "healthy_lifestyles": "Healthy lifestyles",
    "winter_preparedness": "Winter preparedness",
    "good_lives": "Good Lives",
    "step_down": "Step-down and sign-posting from health services",
    "emergency_planning": "Emergency planning",
}

# Who a provider asks besides VCS groups and volunteers (issue 15): its contacts' audiences.
CONTACT_AUDIENCES: dict[str, str] = {
    "partner": "Public-sector partner",
    "commissioner": "Commissioner",
    "representative": "VCS representative",
}
# Who answered a response (`Response.audience`): a group, a volunteer or a contact's audience.
AUDIENCES: dict[str, str] = {
    "group": "VCS group",
    "volunteer": "Volunteer",
    **CONTACT_AUDIENCES,
}

# Attributes copied from the organisation onto a response when it starts.
SEGMENT_ATTRIBUTES = ("org_type", "income_band", "district", "outcomes", "is_member")

# A round's status (collector.rounds.round_status) counts by these values of an organisation,
# with "member" / "not a member" for membership and "not recorded" where a value is missing.
STATUS_VOCABULARIES: dict[str, dict[str, str]] = {
    "org_type": ORGANISATION_TYPES,
    "income_band": INCOME_BANDS,
    "is_member": {"member": "Members", "not a member": "Not members"},
    "audience": AUDIENCES,
}
NOT_RECORDED = "not recorded"


def status_label(segment: str, value: str) -> str:
    """Name a value of a round status's breakdown for people: 'Under £10k', not 'under_10k'."""
    label = STATUS_VOCABULARIES.get(segment, {}).get(value)
    return label or value[:1].upper() + value[1:]


def status_order(segment: str, values: Iterable[str]) -> list[str]:
    """Order a breakdown's values: the vocabulary's order for types and bands, members first,
    districts alphabetically, and "not recorded" last."""
    order = list(STATUS_VOCABULARIES.get(segment, {}))

    def position(value: str) -> tuple[bool, int, str]:
        return (value == NOT_RECORDED, order.index(value) if value in order else 0, value)

    return sorted(values, key=position)
