"""openapi-core adapters: an aiohttp exchange as the request and response GitHub's description describes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.responses.exceptions import ResponseNotFound
from werkzeug.datastructures import Headers, ImmutableMultiDict

API_ORIGIN = "https://api.github.com"
UPLOADS_ORIGIN = "https://uploads.github.com"
UPLOADS_PREFIX = "/uploads"


@dataclass
class SeenRequest:
    """What arrived, placed at GitHub's origin so the description's `servers` match."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes | None
    content_type: str
    host_url: str = API_ORIGIN
    parameters: RequestParameters = field(init=False)

    def __post_init__(self) -> None:
        self.method = self.method.lower()
        if self.path.startswith(UPLOADS_PREFIX + "/"):
            self.host_url = UPLOADS_ORIGIN
            self.path = self.path[len(UPLOADS_PREFIX) :]
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(self.query),
            header=Headers(list(self.headers.items())),
            cookie=ImmutableMultiDict(),
        )


@dataclass
class SentResponse:
    status_code: int
    data: bytes | None
    content_type: str
    headers: dict[str, str]


class Validator:
    def __init__(self, description: dict[str, Any]) -> None:
        self._openapi = OpenAPI.from_dict(description)

    # validate_* only validates; unmarshal_* also builds Python values and is ~25x slower.
    def request_errors(self, request: SeenRequest) -> list[str]:
        try:
            self._openapi.validate_request(request)
        except OpenAPIError as exc:
            return [_describe(exc)]
        return []

    def response_errors(self, request: SeenRequest, response: SentResponse) -> list[str]:
        """Problems of a response; statuses the operation does not declare (401, 403, 5xx) are not checked."""
        try:
            self._openapi.validate_response(request, response)
        except ResponseNotFound:
            return []
        except OpenAPIError as exc:
            return [_describe(exc)]
        return []


def _describe(error: BaseException) -> str:
    """The error's kind and the innermost schema messages (what a person needs to fix the request)."""
    messages: list[str] = []
    cause: BaseException | None = error
    while cause is not None:
        nested = getattr(cause, "schema_errors", None)
        if nested:
            messages = [getattr(item, "message", str(item)) for item in nested]
        cause = cause.__cause__
    return f"{error}: {'; '.join(messages)}" if messages else str(error)
