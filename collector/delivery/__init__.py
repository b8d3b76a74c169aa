"""Delivery: the outbox, its dispatcher, the email transport and its templates, Telegram chats,
rate limits."""
