"""Settings from CITADEL_* variables: parsing, every problem listed at once, secrets never shown."""

import pytest

from citadel.settings import Secret, Settings, SettingsError

REQUIRED = {
    "CITADEL_DATABASE_URL": "postgresql://app:hunter2@db/citadel",
    "CITADEL_REDIS_URL": "redis://cache:6379/0",
    "CITADEL_NATS_URL": "nats://bus:4222",
    "CITADEL_JWT_SECRET": "j" * 40,
    "CITADEL_CSRF_SECRET": "c" * 40,
    "CITADEL_CURSOR_SECRET": "k" * 40,
}


def test_defaults_and_parsing() -> None:
    settings = Settings.from_env(
        {
            **REQUIRED,
            "CITADEL_DATABASE_POOL_SIZE": "12",
            "CITADEL_CORS_ORIGINS": "https://shop.example, https://admin.example",
            "CITADEL_RATE_LIMIT_ENABLED": "false",
            "CITADEL_CONSUMER_BACKOFF_S": "0.5,2,10",
            "CITADEL_ENV": "production",
        }
    )
    assert settings.database_pool_size == 12
    assert settings.cors_origins == ("https://shop.example", "https://admin.example")
    assert settings.rate_limit_enabled is False
    assert settings.consumer_backoff_s == (0.5, 2.0, 10.0)
    assert settings.rate_limit_api_per_second == 100
    assert settings.rate_limit_auth_per_second == 10
    assert settings.access_token_ttl_s == 3600
    assert settings.refresh_token_ttl_s == 7 * 86400
    assert settings.secure_cookies is True
    assert settings.hsts == 31_536_000
    assert settings.database_url.reveal() == REQUIRED["CITADEL_DATABASE_URL"]


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"CITADEL_DATABASE_POOL_SIZE": "many", "CITADEL_ENV": "staging"})
    message = str(caught.value)
    for expected in (
        "CITADEL_DATABASE_URL is not set",
        "CITADEL_JWT_SECRET is not set",
        "CITADEL_DATABASE_POOL_SIZE",
        "CITADEL_ENV",
    ):
        assert expected in message


def test_production_refuses_short_secrets() -> None:
    with pytest.raises(SettingsError, match="CITADEL_JWT_SECRET must hold at least 32"):
        Settings.from_env({**REQUIRED, "CITADEL_ENV": "production", "CITADEL_JWT_SECRET": "short"})


def test_the_relays_linger_is_bounded_by_its_poll() -> None:
    assert Settings.from_env({**REQUIRED, "CITADEL_OUTBOX_LINGER_MS": "0"}).outbox_linger_ms == 0
    for linger in ("-1", "1000"):
        with pytest.raises(SettingsError, match="CITADEL_OUTBOX_LINGER_MS"):
            Settings.from_env({**REQUIRED, "CITADEL_OUTBOX_LINGER_MS": linger})


def test_secrets_never_show() -> None:
    settings = Settings.from_env(REQUIRED)
    text = repr(settings) + str(settings.jwt_secret)
    assert "hunter2" not in text
    assert "j" * 40 not in text
    assert "Secret('**********')" in text


def test_namespaced_names() -> None:
    plain = Settings.from_env(REQUIRED)
    spaced = Settings.from_env({**REQUIRED, "CITADEL_NAMESPACE": "tenant_a"})
    assert plain.subject("citadel.auth.x") == "citadel.auth.x"
    assert spaced.subject("citadel.auth.x") == "tenant_a.citadel.auth.x"
    assert spaced.stream_name("auth") == "TENANT_A_CITADEL_AUTH"
    assert spaced.redis_key("rl:1") == "tenant_a:citadel:rl:1"
    with pytest.raises(SettingsError, match="NAMESPACE"):
        Settings.from_env({**REQUIRED, "CITADEL_NAMESPACE": "a.b"})


def test_overrides_win() -> None:
    settings = Settings.from_env(REQUIRED, database_url=Secret("postgresql://other/db"))
    assert settings.database_url.reveal() == "postgresql://other/db"
