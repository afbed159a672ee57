"""Users and their addresses: API shapes, rows and events."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from citadel.kit.structs import Event, Input, Model, Row

Role = Literal["customer", "vendor", "admin"]
UserStatus = Literal["active", "deactivated"]
AddressKind = Literal["shipping", "billing"]

Name = Annotated[str, msgspec.Meta(max_length=200)]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]


class UserRow(Row, frozen=True):
    id: uuid.UUID
    email: str
    name: str
    role: Role
    status: UserStatus
    email_verified_at: datetime | None
    created_at: datetime
    updated_at: datetime


class User(Model):
    id: uuid.UUID
    email: str
    name: str
    role: Role
    status: UserStatus
    email_verified: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: UserRow) -> "User":
        return cls(
            id=row.id,
            email=row.email,
            name=row.name,
            role=row.role,
            status=row.status,
            email_verified=row.email_verified_at is not None,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class ProfileUpdate(Input):
    name: Name | msgspec.UnsetType = msgspec.UNSET


class RoleChange(Input):
    role: Role


class UserPage(Model):
    items: list[User]
    next_cursor: str | None


class AddressRow(Row, frozen=True):
    id: uuid.UUID
    user_id: uuid.UUID
    kind: AddressKind
    is_default: bool
    full_name: str
    company: str | None
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str | None
    country: str
    phone: str | None
    created_at: datetime
    updated_at: datetime


class Address(Model):
    id: uuid.UUID
    kind: AddressKind
    is_default: bool
    full_name: str
    company: str | None
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str | None
    country: str
    phone: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: AddressRow) -> "Address":
        return cls(**{f: getattr(row, f) for f in cls.__struct_fields__})


class AddressCreate(Input):
    kind: AddressKind
    full_name: ShortText
    line1: ShortText
    city: ShortText
    country: str
    line2: ShortText | None = None
    company: ShortText | None = None
    region: ShortText | None = None
    postal_code: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    is_default: bool = False


class AddressUpdate(Input):
    kind: AddressKind | msgspec.UnsetType = msgspec.UNSET
    full_name: ShortText | msgspec.UnsetType = msgspec.UNSET
    line1: ShortText | msgspec.UnsetType = msgspec.UNSET
    city: ShortText | msgspec.UnsetType = msgspec.UNSET
    country: str | msgspec.UnsetType = msgspec.UNSET
    line2: ShortText | msgspec.UnsetType | None = msgspec.UNSET
    company: ShortText | msgspec.UnsetType | None = msgspec.UNSET
    region: ShortText | msgspec.UnsetType | None = msgspec.UNSET
    postal_code: Annotated[str, msgspec.Meta(max_length=20)] | msgspec.UnsetType | None = msgspec.UNSET
    phone: Annotated[str, msgspec.Meta(max_length=32)] | msgspec.UnsetType | None = msgspec.UNSET
    is_default: bool | msgspec.UnsetType = msgspec.UNSET


class AddressList(Model):
    items: list[Address]


# --- events ------------------------------------------------------------------------------------


class UserRegistered(Event, frozen=True):
    user_id: uuid.UUID
    email: str
    name: str
    role: Role


class UserRoleChanged(Event, frozen=True):
    user_id: uuid.UUID
    old_role: Role
    new_role: Role
    changed_by: uuid.UUID


class UserDeactivated(Event, frozen=True):
    user_id: uuid.UUID
    changed_by: uuid.UUID


class UserReactivated(Event, frozen=True):
    user_id: uuid.UUID
    changed_by: uuid.UUID
