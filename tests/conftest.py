"""Fixtures shared by every test: real servers, an isolated database and namespace, the app."""

pytest_plugins = ["tests.fixtures.servers", "tests.fixtures.app"]
