"""Notifications: messages rendered for users from events."""

import uuid
from datetime import datetime
from typing import Literal

from citadel.kit.structs import Row


class NotificationRow(Row, frozen=True):
    id: uuid.UUID
    user_id: uuid.UUID | None
    channel: Literal["email"]
    template: str
    recipient: str
    subject: str
    body: str
    source_event_id: uuid.UUID
    created_at: datetime
