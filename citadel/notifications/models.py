"""Notifications: messages rendered for users from events."""

import uuid
from datetime import datetime
from typing import Literal

from citadel.kit.structs import Model, Row


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


class Notification(Model):
    id: uuid.UUID
    template: str
    subject: str
    body: str
    created_at: datetime

    @classmethod
    def of(cls, row: NotificationRow) -> "Notification":
        return cls(
            id=row.id, template=row.template, subject=row.subject, body=row.body, created_at=row.created_at
        )


class NotificationList(Model):
    items: list[Notification]
