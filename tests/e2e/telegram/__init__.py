"""The Telegram Bot API emulator and the user's side of a chat, for end-to-end tests."""
