"""The bot's keyboards: ticking choices of a multiple-choice question."""

from __future__ import annotations

from bot.render import toggled
from collector.flow import ChoiceView

CHOICES = (
    ChoiceView("funding", "Funding", False),
    ChoiceView("training", "Training", False),
    ChoiceView("none", "None of these", False, exclusive=True),
)


def test_ticking_an_exclusive_choice_unticks_the_others() -> None:
    assert toggled(CHOICES, [True, True, False], 2) == [False, False, True]


def test_ticking_another_choice_unticks_the_exclusive_one() -> None:
    assert toggled(CHOICES, [False, False, True], 0) == [True, False, False]


def test_other_choices_tick_and_untick_on_their_own() -> None:
    assert toggled(CHOICES, [True, False, False], 1) == [True, True, False]
    assert toggled(CHOICES, [True, True, False], 0) == [False, True, False]
    assert toggled(CHOICES, [False, False, True], 2) == [False, False, False]
