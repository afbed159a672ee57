"""``/api/v1/me/notifications``: the messages Citadel sent you, newest first."""

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from citadel.auth.guards import CurrentPrincipal, requires
from citadel.kit.runtime import Conn
from citadel.notifications import service
from citadel.notifications.models import Notification, NotificationList


class NotificationsController(Controller):
    path = "/api/v1/me/notifications"
    tags = ["me"]
    guards = [requires()]

    @get("", operation_id="listMyNotifications", summary="Your messages (order confirmations and more)")
    async def list_notifications(
        self,
        conn: Conn,
        principal: CurrentPrincipal,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
    ) -> NotificationList:
        rows = await service.list_for_user(conn, principal.user_id, limit)
        return NotificationList(items=[Notification.of(r) for r in rows])
