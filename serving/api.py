"""The HTTP API: FastAPI routes over `KindredService`, with keys, roles, rate limits, metrics and `/mcp`.

Every `/v1` route needs `Authorization: Bearer <key>`; `reader` keys get masked data, `pii_reader`
keys may add `unmask=true` (audited as unmasked). `/health` and `/metrics` need no key and hold no
customer data. Errors are JSON (`ErrorBody`): 401 no or bad key, 403 a reader asking for personal
data, 404 unknown record, 422 bad input naming the field, 429 rate limit with `Retry-After`, 502
the LLM endpoint failed, 503 nothing published yet. The MCP server is mounted at `/mcp` behind the
same keys and limits.
"""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from privacy.callers import Caller, Channel
from serving.auth import CALLER_STATE, Authenticator, RateLimited, Unauthorized, bearer_token
from serving.metrics import MetricsMiddleware, RequestMetrics
from serving.models import (
    CRM_OBJECT_PATTERN,
    SEGMENT_NAME_PATTERN,
    ErrorBody,
    GenerateRequest,
    Generation,
    Health,
    LookupRequest,
    LookupResult,
    RecordOffers,
    RecordScores,
    SegmentList,
    SegmentMembers,
)
from serving.rate_limit import retry_after_header
from serving.service import KindredService, describe_error
from serving.store import NothingPublished

log = logging.getLogger(__name__)

_ERRORS = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        401: "No API key, or an unknown or revoked one.",
        403: "A reader key asked for unmasked data.",
        404: "No such record, profile, segment or template.",
        422: "Invalid input; the message names the field.",
        429: "Rate limit reached; see Retry-After.",
        503: "Nothing published yet, or the server lacks a setting (the message says which).",
    }.items()
}


class ApiError(Exception):
    """An answer other than 200, with its status, message and extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def create_app(
    service: KindredService,
    authenticator: Authenticator,
    *,
    mcp_app: tuple[Any, ASGIApp] | None = None,
) -> FastAPI:
    """The FastAPI application.

    Args:
        service: the operations over the current publication.
        authenticator: keys and rate limits.
        mcp_app: the MCP server and its streamable HTTP endpoint (`serving.mcp_server.mcp_http`),
            mounted at `/mcp` behind the same keys; None for the API alone.

    Returns:
        The app, ready for uvicorn (its lifespan warms up the PII detector and runs the MCP
        session manager).
    """
    metrics = RequestMetrics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(service.warm_up)  # also freezes start-up objects out of collections
        try:
            if mcp_app is not None:
                async with mcp_app[0].session_manager.run():
                    yield
            else:
                yield
        finally:
            service.close()

    app = FastAPI(
        title="Kindred",
        version="1",
        summary="Scores, grounding, profiles and segments of a Kindred customer data platform, masked by role.",
        lifespan=lifespan,
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.state.metrics = metrics
    _error_handlers(app)
    bearer = HTTPBearer(auto_error=False, description="An API key from `kindred keys create NAME`.")

    # The key check and the single-record reads are `async def`: they take well under a
    # millisecond, and running them on the event loop spares each request two hops through the
    # thread pool, whose threads then contend for the GIL under load. Anything slower (PII
    # detection for unmasked documents, segment pages, LLM calls) stays in the pool.
    async def api_caller(
        request: Request,
        response: Response,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        caller = authenticate(authenticator, credentials.credentials if credentials else None, Channel.API)
        # The id of the request's audit rows, so a client can point at them.
        request.state.request_id = uuid.uuid4().hex
        response.headers["X-Request-Id"] = request.state.request_id
        return caller

    CallerDep = Annotated[Caller, Depends(api_caller)]
    CrmObject = Annotated[
        str, Path(pattern=CRM_OBJECT_PATTERN, description="The CRM object, e.g. Lead or Contact.")
    ]
    CrmRecordId = Annotated[
        str, Path(min_length=1, max_length=255, description="The record's id in the CRM.")
    ]
    Source = Annotated[
        str | None,
        Query(
            pattern=r"^[a-z][a-z0-9_]{0,62}$",
            description="The people source, when two hold the same object and id.",
        ),
    ]
    Unmask = Annotated[
        bool, Query(description="Return personal data in clear: pii_reader keys only; audited as unmasked.")
    ]

    @app.get("/health", response_model=Health, responses={503: {"model": Health}}, tags=["service"])
    def health() -> Any:
        """Whether the server has a publication to answer from. Needs no key."""
        try:
            with service.store.connection():
                pass
        except NothingPublished as error:
            return JSONResponse(
                status_code=503,
                content=Health(status="unavailable", published_at=None, message=str(error)).model_dump(),
            )
        published = service.store.published_at()
        return Health(status="ok", published_at=published.isoformat() if published else None)

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
        tags=["service"],
    )
    def prometheus_metrics() -> Response:
        """Request counts and latencies per route template, in Prometheus' text format. Needs no key."""
        body, content_type = metrics.exposition()
        return Response(content=body, media_type=content_type)

    @app.get(
        "/v1/crm/{crm_object}/{crm_record_id}", response_model=RecordScores, responses=_ERRORS, tags=["crm"]
    )
    async def crm_record(
        request: Request,
        caller: CallerDep,
        crm_object: CrmObject,
        crm_record_id: CrmRecordId,
        source: Source = None,
    ) -> Any:
        """A CRM record's scores (probability and 1-99), their reasons in words, and the best offer."""
        return answer(
            request,
            lambda rid: service.record_scores(
                caller, crm_object, crm_record_id, source=source, request_id=rid
            ),
        )

    @app.get(
        "/v1/crm/{crm_object}/{crm_record_id}/grounding",
        response_model=dict[str, Any],
        responses=_ERRORS,
        tags=["crm"],
    )
    async def crm_grounding(
        request: Request,
        caller: CallerDep,
        crm_object: CrmObject,
        crm_record_id: CrmRecordId,
        source: Source = None,
        unmask: Unmask = False,
    ) -> Any:
        """The record's grounding document for a copilot: who the person is, scores with reasons, offers,
        recent activity, consent and provenance. Masked unless a pii_reader asks `unmask=true`."""

        def read(rid: str) -> dict:
            return service.grounding(
                caller, crm_object, crm_record_id, source=source, unmask=unmask, request_id=rid
            )

        # The stored document is an indexed read; an unmasked one is rebuilt and scanned for PII.
        document = await run_in_threadpool(answer, request, read) if unmask else answer(request, read)
        # A plain JSON document: written out as it is, without FastAPI's encoder walking every
        # value of it (the busiest endpoint; its schema is any object). A response returned whole
        # does not take the headers the key check set, so the request id is set here.
        return JSONResponse(document, headers={"X-Request-Id": request.state.request_id})

    @app.get(
        "/v1/crm/{crm_object}/{crm_record_id}/offers",
        response_model=RecordOffers,
        responses=_ERRORS,
        tags=["crm"],
    )
    def crm_offers(
        request: Request,
        caller: CallerDep,
        crm_object: CrmObject,
        crm_record_id: CrmRecordId,
        source: Source = None,
        limit: Annotated[int, Query(ge=1, le=100, description="How many offers at most.")] = 5,
    ) -> Any:
        """The record's next best offers, best first (none for people who may not receive offers)."""
        return answer(
            request,
            lambda rid: service.offers(
                caller, crm_object, crm_record_id, limit=limit, source=source, request_id=rid
            ),
        )

    @app.get("/v1/profiles/{profile_id}", response_model=dict[str, Any], responses=_ERRORS, tags=["profiles"])
    def profile(
        request: Request,
        caller: CallerDep,
        profile_id: Annotated[
            str, Path(min_length=1, max_length=128, description="The unified profile's id.")
        ],
        unmask: Unmask = False,
    ) -> Any:
        """A unified profile's golden record, masked by field kind unless a pii_reader asks `unmask=true`."""
        return answer(request, lambda rid: service.profile(caller, profile_id, unmask=unmask, request_id=rid))

    @app.post("/v1/profiles/lookup", response_model=LookupResult, responses=_ERRORS, tags=["profiles"])
    def lookup(request: Request, caller: CallerDep, body: LookupRequest) -> Any:
        """The profiles an email, phone number or CRM record id belongs to. The value travels in the body,
        is never logged, and is audited only as a keyed hash."""
        return answer(
            request, lambda rid: {"profiles": service.lookup(caller, body.kind, body.value, request_id=rid)}
        )

    @app.get("/v1/segments", response_model=SegmentList, responses=_ERRORS, tags=["segments"])
    def segments(request: Request, caller: CallerDep) -> Any:
        """Every segment of kindred.yaml: description, whose consent applies (purpose, channel), size at the last run."""
        return answer(request, lambda _: {"segments": service.segments()})

    @app.get(
        "/v1/segments/{name}/members", response_model=SegmentMembers, responses=_ERRORS, tags=["segments"]
    )
    def segment_members(
        request: Request,
        caller: CallerDep,
        name: Annotated[str, Path(pattern=SEGMENT_NAME_PATTERN, description="The segment's name.")],
        limit: Annotated[
            int, Query(ge=1, le=100_000, description="Members per page (at most serving.max_page_size).")
        ] = 100,
        after: Annotated[
            str | None, Query(min_length=1, max_length=128, description="`next_after` of the previous page.")
        ] = None,
        unmask: Unmask = False,
    ) -> Any:
        """One page of a segment's members that consent permits for its purpose and channel, with the
        segment's columns (masked by field kind unless a pii_reader asks `unmask=true`), by profile id."""
        return answer(
            request,
            lambda rid: service.segment_members(
                caller, name, limit=limit, after=after, unmask=unmask, request_id=rid
            ),
        )

    @app.post(
        "/v1/generate",
        response_model=Generation,
        responses={**_ERRORS, 502: _LLM_FAILED},
        tags=["generation"],
    )
    def generate(request: Request, caller: CallerDep, body: GenerateRequest) -> Any:
        """Render a prompt template with a CRM record's grounding, send it masked to the configured LLM,
        and return the answer: values put back for a pii_reader, placeholders for a reader."""
        return answer(
            request,
            lambda _: service.generate(
                caller, body.template, body.crm_object, body.crm_record_id, source=body.source
            ),
        )

    if mcp_app is not None:
        app.router.routes.append(Route("/mcp", endpoint=McpAuthentication(mcp_app[1], authenticator)))
    return app


_LLM_FAILED = {"model": ErrorBody, "description": "The LLM endpoint failed, refused or timed out."}


def authenticate(authenticator: Authenticator, key: str | None, channel: Channel) -> Caller:
    """A request's caller, or the `ApiError` (401, 429) to answer with."""
    try:
        return authenticator.caller(key, channel)
    except Unauthorized as error:
        raise ApiError(401, str(error), {"WWW-Authenticate": "Bearer"}) from None
    except RateLimited as error:
        raise ApiError(429, str(error), {"Retry-After": retry_after_header(error.retry_after)}) from None


def answer(request: Request, call: Callable[[str], Any]) -> Any:
    """Run one service call with the request's id; the libraries' deliberate errors become `ApiError`."""
    request_id = getattr(request.state, "request_id", None) or uuid.uuid4().hex
    try:
        return call(request_id)
    except Exception as error:
        described = describe_error(error)
        if described is None:
            raise
        raise ApiError(described.status, described.message) from None


class McpAuthentication:
    """ASGI wrapper of the MCP endpoint: a valid key and a rate-limit token before any MCP message.

    The caller goes into the request's state, where the MCP tools read it
    (`serving.mcp_server`), so tools act with the key's name and role.
    """

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            caller = authenticate(self.authenticator, bearer_token(headers.get("authorization")), Channel.MCP)
        except ApiError as error:
            response = _error_response(error.status, error.message, error.headers)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[CALLER_STATE] = caller
        await self.app(scope, receive, send)


def _error_response(
    status: int, message: str, headers: dict[str, str] | None = None, fields=None
) -> JSONResponse:
    body = ErrorBody(status=status, message=message, fields=fields).model_dump(exclude_none=True)
    return JSONResponse(status_code=status, content=body, headers=headers)


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return _error_response(error.status, error.message, error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        # Only where and what: the input itself could be personal (a lookup value), so it is dropped.
        fields = [
            {
                "location": ".".join(str(p) for p in problem.get("loc", ())),
                "message": problem.get("msg", "invalid"),
            }
            for problem in error.errors()
        ]
        message = "; ".join(f"{f['location']}: {f['message']}" for f in fields) or "invalid request"
        return _error_response(422, message, fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return _error_response(error.status_code, str(error.detail), getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        # Logged by type only: an exception's text can quote the data it failed on.
        log.error("unexpected %s on %s %s", type(error).__name__, request.method, request.scope.get("route"))
        return _error_response(500, f"internal error ({type(error).__name__}); see the server log")
