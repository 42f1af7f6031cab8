"""The JSON API root: /api/v1/, OpenAPI at /api/v1/openapi.json. Routers live in each app's api.py.

Every error answers with the same shape, ``{"code", "message", "field"}``, whether a service refused
(ApplicationError), the input did not parse (422), or the caller is not signed in (401).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.parser import Parser

from gonghui.core.api_auth import api_auth
from gonghui.core.errors import ApplicationError


def _refuse_nul(value: Any, field: str | None) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ApplicationError(
                _("The text contains characters that are not allowed."),
                # The services' own code for it (``clean_text``), so a body's answer is the same
                # whether this check or the service's finds the NUL first.
                code=f"{field}_chars" if field else "text_invalid",
                field=field,
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key, field)
            _refuse_nul(item, str(key))
    elif isinstance(value, list):
        for item in value:
            _refuse_nul(item, field)


class _Parser(Parser):
    """Refuses a NUL character anywhere in a query, a form or a JSON body, before any schema or
    service sees it: no text of the platform holds one, and PostgreSQL can neither store nor
    compare it (a search for one was a server error there)."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = super().parse_body(request)
        _refuse_nul(data, None)
        return data

    def parse_querydict(
        self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        result = super().parse_querydict(data, list_fields, request)
        _refuse_nul(result, None)
        return result


_ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "title": "Error",
        "type": "object",
        "description": "Every refusal: a stable code for programs, a message for people (in the "
        "platform's language, Chinese by default), and the input at fault if any.",
        "properties": {
            "code": {"type": "string", "examples": ["not_found", "status_invalid", "q_chars"]},
            "message": {"type": "string"},
            "field": {"type": ["string", "null"]},
        },
        "required": ["code", "message", "field"],
    },
    "ValidationError": {
        "title": "ValidationError",
        "type": "object",
        "description": "Input that does not fit the schema (code 'validation'): the first fault "
        "in message and field, every fault in errors.",
        "properties": {
            "code": {"type": "string", "const": "validation"},
            "message": {"type": "string"},
            "field": {"type": ["string", "null"]},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": ["string", "null"]},
                        "message": {"type": "string"},
                    },
                    "required": ["field", "message"],
                },
            },
        },
        "required": ["code", "message", "field", "errors"],
    },
}

_ERROR_ANSWERS = {
    "400": ("Error", "The input was refused (a service's rule, a NUL, a body that is not JSON)."),
    "401": ("Error", "Not signed in as staff and no valid API token."),
    "403": ("Error", "Signed in, but without the permission this needs (or a failed CSRF check)."),
    "404": ("Error", "No such object, or not in the caller's organisation subtree: one answer."),
    "422": ("ValidationError", "The input does not fit the schema."),
}


class _API(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        """Ninja documents each operation's success only; every one of them may also answer
        with the error shapes above (mapped in this module), so say so once for all."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {}).update(_ERROR_SCHEMAS)
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, (name, description) in _ERROR_ANSWERS.items():
                    responses.setdefault(
                        status,
                        {
                            "description": description,
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": f"#/components/schemas/{name}"}
                                }
                            },
                        },
                    )
        return schema


api = _API(
    title="gonghui API",
    version="1.0.0",
    urls_namespace="api",
    description=(
        "Organisations, members and member-benefit campaigns of the union platform. Every answer is scoped to the "
        "caller's organisation subtree. Authenticate with `Authorization: Bearer <token>`; a staff "
        "user makes a token on the page /accounts/tokens/, an operator with "
        "`gonghui api_token create --user USERNAME --name NAME`."
    ),
    auth=api_auth,
    # Local assets only ("ninja" is in INSTALLED_APPS); no online spec validator badge either.
    docs=Swagger(settings={"validatorUrl": None}),
    parser=_Parser(),
)


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "field": field, **extra}


@api.exception_handler(ApplicationError)
def application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return api.create_response(
        request, error_body(exc.code, str(exc.message), exc.field), status=exc.status
    )


def _field_name(loc: list[Any] | tuple[Any, ...]) -> str | None:
    # ninja reports ("body", "payload", "name"); the caller only cares about the last name part.
    names = [str(part) for part in loc if not isinstance(part, int)]
    names = [n for n in names if n not in {"body", "query", "path", "payload", "filters"}]
    return names[-1] if names else None


def _validation_message(error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return _("This field is required.")
    if kind == "string_too_long":
        return _("This value is too long (at most %(n)s characters).") % {
            "n": ctx.get("max_length", "?")
        }
    if kind == "string_too_short":
        return _("This value is too short (at least %(n)s characters).") % {
            "n": ctx.get("min_length", "?")
        }
    if kind == "less_than_equal":
        return _("Enter a whole number of at most %(n)s.") % {"n": ctx.get("le", "?")}
    if kind == "greater_than_equal":
        return _("Enter a whole number of at least %(n)s.") % {"n": ctx.get("ge", "?")}
    if kind.startswith(("int_", "float_")):
        return _("Enter a valid whole number.")
    if kind.startswith(("date_", "datetime_")):
        return _("Enter a date as YYYY-MM-DD.")
    if kind in {"literal_error", "enum"}:
        return _("Choose one of the allowed values.")
    if kind.startswith(("string_", "str_")):
        return _("Enter text.")
    if kind.startswith(("bool_",)):
        return _("Enter true or false.")
    if kind in {"model_attributes_type", "dict_type", "model_type", "json_invalid"}:
        return _("The request body must be a JSON object.")
    return _("This value is not valid.")


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {"field": _field_name(e.get("loc", ())), "message": _validation_message(e)}
        for e in exc.errors
    ]
    first = errors[0] if errors else {"field": None, "message": _("The request is not valid.")}
    field = first["field"]
    message = f"{field}: {first['message']}" if field else str(first["message"])
    return api.create_response(
        request, error_body("validation", message, field, errors=errors), status=422
    )


@api.exception_handler(AuthenticationError)
def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request,
        error_body("unauthenticated", _("Sign in as staff or send a valid API token.")),
        status=401,
    )


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, ApplicationError):
        # ninja wraps whatever the body parser raised (our own refusal of a NUL included).
        return application_error(request, exc.__cause__)
    if exc.status_code == 403:
        message = _("The request was refused (CSRF check failed or no permission).")
        code = "forbidden"
    elif exc.status_code == 400:
        # ninja's "Cannot parse request body": a body that is not JSON at all.
        message, code = _("The request body must be a JSON object."), "body_invalid"
    else:
        message, code = str(exc), "http_error"
    return api.create_response(request, error_body(code, message), status=exc.status_code)


def _register_routers() -> None:
    from gonghui.benefits.api import router as benefits_router
    from gonghui.members.api import join_router, members_router, stats_router
    from gonghui.orgs.api import router as orgs_router

    api.add_router("/orgs", orgs_router, tags=["organisations"])
    api.add_router("/members", members_router, tags=["members"])
    api.add_router("/join-applications", join_router, tags=["join applications"])
    api.add_router("/stats", stats_router, tags=["statistics"])
    api.add_router("/benefits", benefits_router, tags=["member benefits"])


_register_routers()
