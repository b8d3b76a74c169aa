"""tempcheck's Telegram bot: respondents answer surveys, staff and funders check on rounds.

`bot.build_application(settings)` builds the python-telegram-bot Application; `tempcheck bot`
runs it (polling, or a webhook when TELEGRAM_WEBHOOK_URL is set).
"""

from bot.app import build_application

__all__ = ["build_application"]
