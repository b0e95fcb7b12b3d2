"""The connector's settings: each field is read from ``CS_INTERCOM_<FIELD>``."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from cs_core import ConnectorSettings, Segment

__all__ = ["IntercomSettings"]


class IntercomSettings(ConnectorSettings):
    """How to reach an Intercom workspace, and how its companies become accounts.

    Only ``CS_INTERCOM_ACCESS_TOKEN`` is required. A workspace hosted in Europe or Australia
    answers at its own address: set ``CS_INTERCOM_BASE_URL`` to ``https://api.eu.intercom.io``
    or ``https://api.au.intercom.io``.
    """

    access_token: SecretStr
    """The access token of an Intercom app installed in the workspace, allowed to read users,
    companies and conversations. A ``SecretStr``: it is never printed or logged."""
    base_url: str = "https://api.intercom.io"
    """The workspace's regional API address (the default is the United States one)."""
    api_version: str = Field(default="2.11", pattern=r"^\d+\.\d+$")
    """The ``Intercom-Version`` header: the API version whose shapes this connector reads."""
    segment_attribute: str = "segment"
    """The company custom attribute that holds the account's segment (enterprise, mid-market,
    smb or plg, in any case or spelling)."""
    default_segment: Segment | None = None
    """The segment of companies that have no segment attribute; without it they are
    quarantined, since every account needs a segment."""
    seats_attribute: str | None = None
    """The company custom attribute that holds the licensed seats, if you keep one. (Intercom's
    own ``user_count`` counts the people it knows, which is not what a contract licenses.)"""
    company_id_source: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_.\-]{0,62}$")
    """The source whose account ids your companies' ``company_id`` holds (``salesforce``, say):
    each account is then linked to that source's account as the same customer."""
    page_size: int = Field(default=150, ge=1, le=150)
    """Records per search page; 150 is the most Intercom gives."""
    timeout: float = Field(default=30.0, gt=0)
    """Seconds to wait for each answer before the request counts as failed (and is retried)."""

    @field_validator("access_token")
    @classmethod
    def _check_access_token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty: give the access token of an Intercom app in the workspace")
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(
                "give the API's address, such as https://api.intercom.io or "
                "https://api.eu.intercom.io"
            )
        return value.rstrip("/")
