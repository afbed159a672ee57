"""Vendors: the sellers products belong to (owner, name, status)."""

import uuid
from datetime import datetime
from typing import Literal

from citadel.kit.structs import Model, Row

VendorStatus = Literal["pending", "active", "suspended", "rejected"]


class VendorRow(Row, frozen=True):
    id: uuid.UUID
    owner_user_id: uuid.UUID
    name: str
    slug: str
    status: VendorStatus
    created_at: datetime
    updated_at: datetime


class VendorRef(Model):
    """A vendor as products show it."""

    id: uuid.UUID
    name: str
    slug: str
