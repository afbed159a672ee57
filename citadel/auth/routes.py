"""``/api/v1/auth`` and ``/api/v1/me/password``: sign-up, sign-in, sessions, password and e-mail flows."""

import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, post
from litestar.datastructures import Cookie
from litestar.params import JSONBody

from citadel.auth import service
from citadel.auth.guards import (
    ACCESS_COOKIE,
    CSRF_COOKIE,
    REFRESH_COOKIE,
    CurrentPrincipal,
    check_csrf,
    csrf_token,
    requires,
)
from citadel.auth.models import (
    ChangePasswordInput,
    ForgotPasswordInput,
    IssuedSession,
    LoginInput,
    RefreshInput,
    RegisterInput,
    ResetPasswordInput,
    Session,
    TokenTransport,
    VerifyEmailInput,
)
from citadel.cart import service as carts
from citadel.cart.models import CartToken
from citadel.kit.http import client_ip
from citadel.kit.runtime import Conn, RuntimeDep
from citadel.users.models import User

AUTH_COOKIE_PATH = "/api/v1/auth"


def _cookie(
    runtime: RuntimeDep, key: str, value: str, *, max_age: int, path: str, httponly: bool = True
) -> Cookie:
    settings = runtime.settings
    return Cookie(
        key=key,
        value=value,
        max_age=max_age,
        path=path,
        domain=settings.cookie_domain,
        secure=settings.secure_cookies,
        httponly=httponly,
        samesite=settings.cookie_samesite,
    )


def session_response(
    runtime: RuntimeDep, user: User, issued: IssuedSession, transport: TokenTransport, status_code: int = 200
) -> Response[Session]:
    """The session as a body (Bearer clients) or as httpOnly cookies plus a CSRF token (browsers)."""
    now = datetime.now(UTC)
    expires_in = max(0, issued.access_expires_at - int(now.timestamp()))
    refresh_expires_in = max(0, int((issued.refresh_expires_at - now).total_seconds()))
    cookies: list[Cookie] = []
    if transport == "cookie":
        csrf = csrf_token(runtime, issued.session_id)
        body = Session(
            user=user, expires_in=expires_in, refresh_expires_in=refresh_expires_in, csrf_token=csrf
        )
        cookies = [
            _cookie(runtime, ACCESS_COOKIE, issued.access_token, max_age=expires_in, path="/"),
            _cookie(
                runtime,
                REFRESH_COOKIE,
                issued.refresh_token,
                max_age=refresh_expires_in,
                path=AUTH_COOKIE_PATH,
            ),
            _cookie(runtime, CSRF_COOKIE, csrf, max_age=refresh_expires_in, path="/", httponly=False),
        ]
    else:
        body = Session(
            user=user,
            expires_in=expires_in,
            refresh_expires_in=refresh_expires_in,
            access_token=issued.access_token,
            refresh_token=issued.refresh_token,
        )
    return Response(body, status_code=status_code, cookies=cookies, headers={"Cache-Control": "no-store"})


def _cleared_cookies(runtime: RuntimeDep) -> list[Cookie]:
    return [
        _cookie(runtime, ACCESS_COOKIE, "", max_age=0, path="/"),
        _cookie(runtime, REFRESH_COOKIE, "", max_age=0, path=AUTH_COOKIE_PATH),
        _cookie(runtime, CSRF_COOKIE, "", max_age=0, path="/", httponly=False),
    ]


def _user_agent(request: Request[Any, Any, Any]) -> str | None:
    return request.headers.get("user-agent")


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post(
        "/register", operation_id="register", status_code=201, summary="Create a customer account and sign in"
    )
    async def register(
        self, data: JSONBody[RegisterInput], tx: Conn, runtime: RuntimeDep, request: Request[Any, Any, Any]
    ) -> Response[Session]:
        user, issued = await service.register(
            tx,
            runtime,
            email=data.email,
            password=data.password,
            name=data.name,
            ip=client_ip(request.scope),
            user_agent=_user_agent(request),
        )
        return session_response(runtime, user, issued, data.token_transport, 201)

    @post("/login", operation_id="login", status_code=200, summary="Sign in with e-mail and password")
    async def login(
        self,
        data: JSONBody[LoginInput],
        tx: Conn,
        runtime: RuntimeDep,
        request: Request[Any, Any, Any],
        cart_token: CartToken,
    ) -> Response[Session]:
        user, issued = await service.login(
            tx,
            runtime,
            email=data.email,
            password=data.password,
            ip=client_ip(request.scope),
            user_agent=_user_agent(request),
        )
        if cart_token:  # the guest's cart joins the user's
            await carts.merge_guest_cart(tx, user.id, cart_token, runtime.settings.cart_max_quantity)
        return session_response(runtime, user, issued, data.token_transport)

    @post("/refresh", operation_id="refresh", status_code=200, summary="Rotate the refresh token")
    async def refresh(
        self,
        tx: Conn,
        runtime: RuntimeDep,
        request: Request[Any, Any, Any],
        data: JSONBody[RefreshInput | None] = None,
    ) -> Response[Session]:
        token = data.refresh_token if data is not None else None
        transport: TokenTransport = "bearer"
        verify_session = None
        if not token:
            token = request.cookies.get(REFRESH_COOKIE)
            transport = "cookie"

            def verify_session(session_id: uuid.UUID) -> None:
                check_csrf(runtime, request, session_id)

        user, issued = await service.refresh(tx, runtime, token=token or "", verify_session=verify_session)
        return session_response(runtime, user, issued, transport)

    @post("/logout", operation_id="logout", status_code=204, guards=[requires()], summary="End this session")
    async def logout(self, tx: Conn, runtime: RuntimeDep, principal: CurrentPrincipal) -> Response[None]:
        await service.logout(tx, user_id=principal.user_id, session_id=principal.session_id)
        return Response(None, status_code=204, cookies=_cleared_cookies(runtime))

    @post(
        "/logout-all",
        operation_id="logoutEverywhere",
        status_code=204,
        guards=[requires()],
        summary="End every session of this account",
    )
    async def logout_all(self, tx: Conn, runtime: RuntimeDep, principal: CurrentPrincipal) -> Response[None]:
        await service.logout_everywhere(tx, user_id=principal.user_id)
        return Response(None, status_code=204, cookies=_cleared_cookies(runtime))

    @post(
        "/password/forgot",
        operation_id="forgotPassword",
        status_code=202,
        summary="E-mail a password reset link (the answer is the same for unknown addresses)",
    )
    async def forgot_password(
        self, data: JSONBody[ForgotPasswordInput], tx: Conn, runtime: RuntimeDep
    ) -> None:
        await service.request_password_reset(tx, runtime, email=data.email)

    @post(
        "/password/reset",
        operation_id="resetPassword",
        status_code=204,
        summary="Set a new password from a link",
    )
    async def reset_password(self, data: JSONBody[ResetPasswordInput], tx: Conn, runtime: RuntimeDep) -> None:
        await service.reset_password(tx, runtime, token=data.token, new_password=data.new_password)

    @post("/email/verify", operation_id="verifyEmail", status_code=200, summary="Confirm an e-mail address")
    async def verify_email(self, data: JSONBody[VerifyEmailInput], tx: Conn) -> User:
        return await service.verify_email(tx, token=data.token)

    @post(
        "/email/resend",
        operation_id="resendVerification",
        status_code=202,
        guards=[requires()],
        summary="Send the verification e-mail again",
    )
    async def resend_verification(self, tx: Conn, runtime: RuntimeDep, principal: CurrentPrincipal) -> None:
        await service.resend_verification(tx, runtime, user_id=principal.user_id)


class PasswordController(Controller):
    path = "/api/v1/me/password"
    tags = ["me"]
    guards = [requires()]

    @post("", operation_id="changePassword", status_code=200, summary="Change password; other sessions end")
    async def change_password(
        self,
        data: JSONBody[ChangePasswordInput],
        tx: Conn,
        runtime: RuntimeDep,
        principal: CurrentPrincipal,
        request: Request[Any, Any, Any],
    ) -> Response[Session]:
        user, issued = await service.change_password(
            tx,
            runtime,
            user_id=principal.user_id,
            current_password=data.current_password,
            new_password=data.new_password,
            ip=client_ip(request.scope),
            user_agent=_user_agent(request),
        )
        return session_response(runtime, user, issued, data.token_transport)
