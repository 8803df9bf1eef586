"""Keeping the resident informed: the outbox, message texts, push backends, reminders and scheduled follow-ups."""
