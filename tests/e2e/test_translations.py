"""The built-in survey in Urdu and in Welsh, in a real browser at phone size: the questions from
the survey file, the words around them from the interface catalogs, right to left for Urdu, and
the answers stored as the same codes as in English.

Each page is checked with axe-core and saved as a screenshot under artifacts/screenshots/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Demo, LiveServer
from tests.e2e.test_answering import audit, on_question, phone, stored, watch

pytestmark = pytest.mark.e2e


def test_a_group_answers_in_urdu_right_to_left_and_in_welsh(
    chromium: Browser, live_server: LiveServer, demo_template: Demo, screenshots: Path
) -> None:
    problems: list[str] = []
    token = demo_template.fresh[1]
    context = phone(chromium)
    page = watch(context.new_page(), problems)

    page.goto(f"{live_server.url}/r/{token}")
    page.get_by_role("button", name="اردو").click()
    # The page's direction is on <body> (GOV.UK's template takes no `dir` for <html>).
    expect(page.locator("html")).to_have_attribute("lang", "ur")
    expect(page.locator("body")).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("heading", level=1)).to_have_text("آپ کی CVS سے ملنے والی مدد")
    expect(page.get_by_text("سروے بند ہونے کی تاریخ")).to_be_visible()
    audit(page, "20-start-urdu", screenshots)
    page.get_by_role("button", name="ابھی شروع کریں").click()

    on_question(page, live_server, token, "intro")
    page.get_by_role("button", name="جاری رکھیں").click()
    on_question(page, live_server, token, "used_support")
    expect(page.get_by_text("11 میں سے سوال 1")).to_be_visible()
    # No answer: the error, in Urdu, from the catalog.
    page.get_by_role("button", name="جاری رکھیں").click()
    expect(page.get_by_role("alert")).to_contain_text("ایک مسئلہ ہے")
    expect(page.get_by_role("link", name="کوئی جواب منتخب کریں")).to_be_visible()
    audit(page, "21-question-error-urdu", screenshots)
    page.get_by_label("جی ہاں", exact=True).check()
    page.get_by_role("button", name="جاری رکھیں").click()

    on_question(page, live_server, token, "support_kinds")
    expect(page.get_by_text("جو بھی لاگو ہوں، سب منتخب کریں۔")).to_be_visible()
    page.get_by_label("تربیت", exact=True).check()
    audit(page, "22-checkboxes-urdu", screenshots)
    page.get_by_role("button", name="جاری رکھیں").click()
    on_question(page, live_server, token, "ease_of_access")

    response, answers = stored(live_server, token)
    assert response.language == "ur"
    assert answers == {"used_support": "yes", "support_kinds": "training"}
    context.close()

    # Welsh: the start page and a question, left to right.
    token = demo_template.fresh[2]
    context = phone(chromium)
    page = watch(context.new_page(), problems)
    page.goto(f"{live_server.url}/r/{token}")
    page.get_by_role("button", name="Cymraeg").click()
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    expect(page.locator("body")).to_have_attribute("dir", "ltr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Cymorth gan eich CVS")
    page.get_by_role("button", name="Dechrau nawr").click()
    page.get_by_role("button", name="Parhau").click()
    on_question(page, live_server, token, "used_support")
    page.get_by_label("Ie", exact=True).check()
    page.get_by_role("button", name="Parhau").click()
    on_question(page, live_server, token, "support_kinds")
    expect(page.get_by_text("Dewiswch bob un sy'n berthnasol.")).to_be_visible()
    audit(page, "23-checkboxes-welsh", screenshots)
    assert stored(live_server, token)[1] == {"used_support": "yes"}
    context.close()
    assert problems == []
