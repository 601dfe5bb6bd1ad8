"""The MCP server: Kindred's customer context as tools an agent can call, over stdio or streamable HTTP.

The tools are thin over `KindredService`, as the HTTP routes are, so an agent gets exactly what an
API client with the same key gets: masked data for a `reader` key, clear data only when a
`pii_reader` key asks, every read audited under the key's name on the `mcp` channel.

Who is calling: over HTTP (`/mcp` on `kindred serve`) the bearer key of each request, checked
by `serving.api.McpAuthentication`; over stdio (`kindred mcp`) the key in `KINDRED_API_KEY`
(or `--key-env`), checked once when the server starts and again, with its rate limit, on every
tool call, so revoking the key stops a running desktop agent too.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field
from starlette.types import ASGIApp

from privacy.callers import Caller, Channel
from serving.auth import CALLER_STATE, Authenticator, RateLimited, Unauthorized
from serving.models import CRM_OBJECT_PATTERN, TEMPLATE_NAME_PATTERN
from serving.service import KindredService, describe_error

INSTRUCTIONS = (
    "Customer context from Kindred, a customer data platform. Start from what you have: an email, "
    "phone number or CRM record id -> find_customer; a CRM record (object such as Lead or Contact, "
    "and its id) -> get_customer_context for the full picture, get_scores or get_next_best_offers "
    "for one part. Personal data is masked (j***@example.com, Jane D.) unless your key may see it "
    "and you pass unmask=true; every call is audited. generate drafts text (an email, a note) from "
    "a prompt template and a CRM record; list_segments shows the marketing segments."
)

CrmObject = Annotated[
    str,
    Field(
        pattern=CRM_OBJECT_PATTERN, description="The CRM object type, e.g. 'Lead' or 'Contact' (exact case)."
    ),
]
CrmRecordId = Annotated[
    str,
    Field(min_length=1, max_length=255, description="The record's id in the CRM, e.g. '00Q5g00000AbCdEAAA'."),
]
Unmask = Annotated[
    bool,
    Field(
        description="True to get personal data in clear; only keys with the pii_reader role may, and it is audited."
    ),
]


class CallerResolver:
    """Finds the caller of a tool call: the HTTP request's key, or the stdio server's key."""

    def __init__(self, authenticator: Authenticator, stdio_key: str | None = None) -> None:
        self.authenticator = authenticator
        self.stdio_key = stdio_key

    def __call__(self, ctx: Context) -> Caller:
        request = ctx.request_context.request if ctx is not None else None
        state = getattr(request, "scope", {}).get("state", {}) if request is not None else {}
        caller = state.get(CALLER_STATE)
        if caller is not None:
            return caller
        if request is not None:
            raise ToolError("no authenticated caller on this HTTP request: send Authorization: Bearer <key>")
        try:
            return self.authenticator.caller(self.stdio_key, Channel.MCP)
        except (Unauthorized, RateLimited) as error:
            raise ToolError(str(error)) from None


def build_mcp_server(service: KindredService, resolver: CallerResolver) -> MCPServer:
    """The MCP server with Kindred's tools.

    Args:
        service: the operations over the current publication.
        resolver: who is calling (see `CallerResolver`).

    Returns:
        The server: `.run("stdio")` for desktop agents, or `mcp_http(server)` to mount it.
    """
    server = MCPServer("kindred", instructions=INSTRUCTIONS)

    def call(ctx: Context, operation) -> Any:
        caller = resolver(ctx)
        try:
            return operation(caller, uuid.uuid4().hex)
        except Exception as error:
            described = describe_error(error)
            if described is None:
                raise
            raise ToolError(described.message) from None

    @server.tool()
    def find_customer(
        ctx: Context,
        email: Annotated[str | None, Field(description="The customer's email address.")] = None,
        phone: Annotated[str | None, Field(description="The customer's phone number, any format.")] = None,
        crm_record_id: Annotated[str | None, Field(description="An id of one of their CRM records.")] = None,
    ) -> dict[str, Any]:
        """Find which customer (profile) an email address, phone number or CRM record id belongs to.

        Give exactly one of email, phone or crm_record_id. Returns the matching profiles, each with
        its CRM records (crm_object, crm_record_id) to pass to get_customer_context, get_scores or
        get_next_best_offers. The value you search by is never stored in clear.
        """
        given = {k: v for k, v in {"email": email, "phone": phone, "crm_id": crm_record_id}.items() if v}
        if len(given) != 1:
            raise ToolError("give exactly one of email, phone or crm_record_id")
        ((kind, value),) = given.items()
        return call(
            ctx, lambda caller, rid: {"profiles": service.lookup(caller, kind, value, request_id=rid)}
        )

    @server.tool()
    def get_customer_context(
        ctx: Context, crm_object: CrmObject, crm_record_id: CrmRecordId, unmask: Unmask = False
    ) -> dict[str, Any]:
        """Everything Kindred knows about the customer behind one CRM record, for answering or drafting.

        Returns the grounding document: who they are (first name, masked contact details, location,
        company, tenure), their scores with reasons, best offers, recent orders, support cases and
        web/email activity, what they consent to, and provenance (which source record each fact
        came from, to cite). Personal data is masked unless unmask=true with a pii_reader key.
        """
        return call(
            ctx,
            lambda caller, rid: service.grounding(
                caller, crm_object, crm_record_id, source=None, unmask=unmask, request_id=rid
            ),
        )

    @server.tool()
    def get_scores(ctx: Context, crm_object: CrmObject, crm_record_id: CrmRecordId) -> dict[str, Any]:
        """The predictive scores of one CRM record: lead score (leads) and churn risk, each as a
        probability and on a 1-99 scale, with the top reasons in words, and the best offer."""
        return call(
            ctx,
            lambda caller, rid: service.record_scores(
                caller, crm_object, crm_record_id, source=None, request_id=rid
            ),
        )

    @server.tool()
    def get_next_best_offers(
        ctx: Context,
        crm_object: CrmObject,
        crm_record_id: CrmRecordId,
        limit: Annotated[int, Field(ge=1, le=100, description="How many offers at most, best first.")] = 5,
    ) -> dict[str, Any]:
        """The offers (catalog offers with their names, or product categories or products) the customer
        of a CRM record is most likely to take up next, best first, with their scores. Empty for people who may not receive offers."""
        return call(
            ctx,
            lambda caller, rid: service.offers(
                caller, crm_object, crm_record_id, limit=limit, source=None, request_id=rid
            ),
        )

    @server.tool()
    def list_segments(ctx: Context) -> dict[str, Any]:
        """The marketing segments defined in Kindred (for example customers likely to churn who spend
        a lot), each with its description, the purpose and channel whose consent applies to it, and
        how many people were in it at the last run."""
        return call(ctx, lambda caller, rid: {"segments": service.segments()})

    generate_description = (
        "Draft text for one CRM record with a configured prompt template (for example a follow-up "
        "email to a lead or a retention note for a customer at risk): the record's grounding is "
        "masked before it reaches the LLM, and the answer comes back with the person's details put "
        "in again for a pii_reader key (placeholders such as <PERSON_1> for a reader key)."
    )
    templates = service.templates()
    if templates:
        listed = "; ".join(f"{t['name']}: {t['description'] or 'no description'}" for t in templates)
        generate_description += f" Templates: {listed}."

    @server.tool(description=generate_description)
    def generate(
        ctx: Context,
        template: Annotated[
            str, Field(pattern=TEMPLATE_NAME_PATTERN, description="The prompt template's name.")
        ],
        crm_object: CrmObject,
        crm_record_id: CrmRecordId,
    ) -> dict[str, Any]:
        return call(
            ctx, lambda caller, _: service.generate(caller, template, crm_object, crm_record_id, source=None)
        )

    return server


def mcp_http(server: MCPServer, host: str) -> tuple[MCPServer, ASGIApp]:
    """The server's streamable HTTP endpoint, to mount at `/mcp` (`serving.api.create_app(mcp_app=...)`).

    Args:
        server: the MCP server.
        host: the address the HTTP server binds to; on a loopback address the SDK's DNS-rebinding
            protection accepts only loopback Host headers (which must carry a port).

    Returns:
        The server (its session manager must run in the app's lifespan) and the ASGI endpoint.
    """
    starlette = server.streamable_http_app(streamable_http_path="/mcp", host=host)
    (route,) = [r for r in starlette.routes if getattr(r, "path", None) == "/mcp"]
    return server, route.endpoint
