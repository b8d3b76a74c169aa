"""The segments funders ask results to be broken down by, with their labels (from the seeds)."""

from __future__ import annotations

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

PROVIDER_KINDS: dict[str, str] = {
    "cvs": "Council for Voluntary Service",
    "volunteer_centre": "Volunteer centre",
    "other": "Other local infrastructure organisation",
}

# Attributes copied from the organisation onto a response when it starts.
SEGMENT_ATTRIBUTES = ("org_type", "income_band", "district", "outcomes", "is_member")
