"""Who is asking: the caller every read of personal data carries, with its role and channel.

Two roles exist. A `reader` gets masked data only; a `pii_reader` may also have masked data
unmasked (a placeholder mapping or a keyed token turned back into the value). The channel says
which face of Kindred the caller came through: the command line, the HTTP API or the MCP server.
Each face builds one `Caller` per request and hands it down; the libraries decide from it, never
from where they were called.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a caller may see: masked data only (`reader`), or personal data too (`pii_reader`)."""

    READER = "reader"
    PII_READER = "pii_reader"


class Channel(StrEnum):
    """The face of Kindred a request came through."""

    CLI = "cli"
    API = "api"
    MCP = "mcp"


class PiiAccessDenied(PermissionError):
    """The caller's role may not see personal data; the message names the caller and the role needed."""


@dataclass(frozen=True)
class Caller:
    """One caller of the trust layer.

    Attributes:
        name: who, as the audit log should name them: an API key's name, or the operating-system
            user on the command line. Never a secret.
        role: `Role.READER` or `Role.PII_READER` (plain strings are accepted and checked).
        channel: `Channel.CLI`, `Channel.API` or `Channel.MCP` (plain strings are accepted).

    Example:
        >>> Caller("crm-copilot", "reader", "api").may_see_pii
        False
    """

    name: str
    role: Role
    channel: Channel

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("a caller needs a name (an API key name or a user name)")
        object.__setattr__(self, "role", self._member(Role, self.role, "role"))
        object.__setattr__(self, "channel", self._member(Channel, self.channel, "channel"))

    def _member(self, kind: type[StrEnum], value: object, what: str) -> StrEnum:
        try:
            return kind(value)
        except ValueError:
            known = ", ".join(member.value for member in kind)
            raise ValueError(f"caller {self.name!r}: unknown {what} {value!r} (known: {known})") from None

    @property
    def may_see_pii(self) -> bool:
        """Whether this caller may have personal data unmasked."""
        return self.role is Role.PII_READER

    def require_pii(self, what: str) -> None:
        """Raise unless the caller may see personal data.

        Args:
            what: what was asked for, for the message (e.g. `unmasked grounding of Lead 00Q1`).

        Raises:
            PiiAccessDenied: the caller's role is `reader`.
        """
        if not self.may_see_pii:
            raise PiiAccessDenied(
                f"{self.name} ({self.role.value}, {self.channel.value}) may not see personal data: "
                f"{what} needs the {Role.PII_READER.value} role"
            )

    @classmethod
    def cli_operator(cls, *, masked: bool = False) -> Caller:
        """The person running the `kindred` command.

        Whoever can run the command line can open the warehouse file itself, so the command line
        is a `pii_reader`; `masked=True` (the commands' `--masked`) asks for what a `reader` sees.

        Args:
            masked: act as a `reader`.

        Returns:
            A caller named after the operating-system user, on the `cli` channel.
        """
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry in some containers
            user = "unknown-user"
        return cls(user, Role.READER if masked else Role.PII_READER, Channel.CLI)
