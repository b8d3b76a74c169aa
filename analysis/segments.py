"""How segments and their values are named in reports, and the order they are listed in."""

from __future__ import annotations

from collector import i18n
from collector.segments import AUDIENCES, INCOME_BANDS, ORGANISATION_TYPES, OUTCOMES

__all__ = ["NOT_RECORDED", "SEGMENT_TITLES", "order_keys", "value_label"]

NOT_RECORDED = "Not recorded"

SEGMENT_TITLES: dict[str, str] = {
    "org_type": "Type of organisation",
    "income_band": "Income band",
    "district": "District",
    "outcomes": "Outcome area",
    "channel": "Channel",
    "is_member": "Membership",
    "audience": "Audience",
    "contact_org": "Organisation",
    "language": "Language answered in",
    "provider": "Provider",  # an alliance's report: each of its providers
}

CHANNELS: dict[str, str] = {
    "web": "Web",
    "telegram": "Telegram",
    "terminal": "Terminal",
    "open_link": "Open link",
}
MEMBERSHIP: dict[str, str] = {"member": "Member", "not_member": "Not a member"}

_LABELS: dict[str, dict[str, str]] = {
    "org_type": ORGANISATION_TYPES,
    "income_band": INCOME_BANDS,
    "outcomes": OUTCOMES,
    "channel": CHANNELS,
    "is_member": MEMBERSHIP,
    "audience": AUDIENCES,
}


def value_label(segment: str, key: str | None) -> str:
    """Name a segment value for people: 'Registered charity', 'Under £10k', 'Not recorded'."""
    if key is None:
        return NOT_RECORDED
    if segment == "language":
        return i18n.english_name(key)
    return _LABELS.get(segment, {}).get(key, key)


def order_keys(segment: str, keys: list[str | None]) -> list[str | None]:
    """Order a segment's values as the seeds list them (others alphabetically), unknown last."""
    known = list(_LABELS.get(segment, {}))
    rank = {key: n for n, key in enumerate(known)}

    def sort_key(key: str | None) -> tuple[int, int, str]:
        if key is None:
            return (2, 0, "")
        if key in rank:
            return (0, rank[key], key)
        return (1, 0, key.casefold())

    return sorted(keys, key=sort_key)
