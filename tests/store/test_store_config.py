"""`[store]` and `assurance.session_ttl_s` validation names the key and never echoes a password."""

from __future__ import annotations

import pytest

from proxy.config import ConfigError, config_from_mapping


def test_a_non_postgres_url_is_refused_with_the_password_redacted() -> None:
    """`store.url` must be postgresql://; the message masks the URL's password."""
    with pytest.raises(ConfigError, match=r"store\.url") as caught:
        config_from_mapping({"store": {"url": "mysql://user:hunter2@db/x"}})
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("table", "key", "value"),
    [
        ("store", "retention_days", 0),
        ("store", "pool_max_size", 0),
        ("store", "timeout_s", 0),
        ("store", "maintenance_interval_s", -1),
        ("assurance", "session_ttl_s", 0),
    ],
)
def test_out_of_range_values_name_their_key(table: str, key: str, value: int) -> None:
    """Each bound is checked at start-up, naming `table.key`."""
    with pytest.raises(ConfigError, match=rf"{table}\.{key}"):
        config_from_mapping({table: {key: value}})


def test_a_postgres_url_is_accepted() -> None:
    """A PostgreSQL URL with a password variable loads."""
    config = config_from_mapping(
        {"store": {"url": "postgresql://a@db:5432/x", "password_env": "PGPASSWORD"}}
    )
    assert config.store.url == "postgresql://a@db:5432/x"
