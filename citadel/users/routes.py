"""``/api/v1/me`` (the caller's profile and addresses) and ``/api/v1/users`` (administration)."""

import uuid
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from citadel.auth.guards import CurrentPrincipal, requires
from citadel.kit.http import PageSize
from citadel.kit.runtime import Conn, RuntimeDep
from citadel.users import service
from citadel.users.models import (
    Address,
    AddressCreate,
    AddressList,
    AddressUpdate,
    ProfileUpdate,
    Role,
    RoleChange,
    User,
    UserPage,
    UserStatus,
)


class MeController(Controller):
    path = "/api/v1/me"
    tags = ["me"]
    guards = [requires()]

    @get("", operation_id="getMe", summary="The signed-in user")
    async def me(self, conn: Conn, principal: CurrentPrincipal) -> User:
        return User.of(await service.get_user(conn, principal.user_id))

    @patch("", operation_id="updateMe", summary="Update the profile")
    async def update_me(self, data: JSONBody[ProfileUpdate], tx: Conn, principal: CurrentPrincipal) -> User:
        return await service.update_profile(tx, principal.user_id, data)

    @get("/addresses", operation_id="listAddresses", summary="Saved addresses")
    async def list_addresses(self, conn: Conn, principal: CurrentPrincipal) -> AddressList:
        return AddressList(items=await service.list_addresses(conn, principal.user_id))

    @post("/addresses", operation_id="createAddress", status_code=201, summary="Save an address")
    async def create_address(
        self, data: JSONBody[AddressCreate], tx: Conn, principal: CurrentPrincipal
    ) -> Address:
        return await service.create_address(tx, principal.user_id, data)

    @get("/addresses/{address_id:uuid}", operation_id="getAddress", summary="One saved address")
    async def get_address(
        self, address_id: FromPath[uuid.UUID], conn: Conn, principal: CurrentPrincipal
    ) -> Address:
        return await service.get_address(conn, principal.user_id, address_id)

    @patch("/addresses/{address_id:uuid}", operation_id="updateAddress", summary="Change a saved address")
    async def update_address(
        self,
        address_id: FromPath[uuid.UUID],
        data: JSONBody[AddressUpdate],
        tx: Conn,
        principal: CurrentPrincipal,
    ) -> Address:
        return await service.update_address(tx, principal.user_id, address_id, data)

    @delete("/addresses/{address_id:uuid}", operation_id="deleteAddress", summary="Delete a saved address")
    async def delete_address(
        self, address_id: FromPath[uuid.UUID], tx: Conn, principal: CurrentPrincipal
    ) -> None:
        await service.delete_address(tx, principal.user_id, address_id)


class UsersAdminController(Controller):
    path = "/api/v1/users"
    tags = ["users (admin)"]
    guards = [requires("admin")]

    @get("", operation_id="listUsers", summary="Find users (newest first by default)")
    async def list_users(
        self,
        conn: Conn,
        runtime: RuntimeDep,
        q: Annotated[
            str | None, QueryParameter(max_length=200, description="Part of an e-mail or name")
        ] = None,
        role: Annotated[Role | None, QueryParameter()] = None,
        status: Annotated[UserStatus | None, QueryParameter()] = None,
        sort: Annotated[str | None, QueryParameter(description="newest, oldest or email")] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=1000)] = None,
        limit: PageSize = 20,
    ) -> UserPage:
        return await service.list_users(
            conn, runtime.cursors, q=q, role=role, status=status, sort=sort, cursor=cursor, limit=limit
        )

    @get("/{user_id:uuid}", operation_id="getUser", summary="One user")
    async def get_user(self, user_id: FromPath[uuid.UUID], conn: Conn) -> User:
        return User.of(await service.get_user(conn, user_id))

    @patch("/{user_id:uuid}/role", operation_id="changeUserRole", summary="Change a user's role")
    async def change_role(
        self, user_id: FromPath[uuid.UUID], data: JSONBody[RoleChange], tx: Conn, principal: CurrentPrincipal
    ) -> User:
        return await service.change_role(tx, actor_id=principal.user_id, user_id=user_id, role=data.role)

    @post(
        "/{user_id:uuid}/deactivate",
        operation_id="deactivateUser",
        status_code=200,
        summary="Deactivate an account (its sessions end at once)",
    )
    async def deactivate(self, user_id: FromPath[uuid.UUID], tx: Conn, principal: CurrentPrincipal) -> User:
        return await service.set_active(tx, actor_id=principal.user_id, user_id=user_id, active=False)

    @post("/{user_id:uuid}/reactivate", operation_id="reactivateUser", status_code=200, summary="Reactivate")
    async def reactivate(self, user_id: FromPath[uuid.UUID], tx: Conn, principal: CurrentPrincipal) -> User:
        return await service.set_active(tx, actor_id=principal.user_id, user_id=user_id, active=True)
