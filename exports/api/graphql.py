"""GraphQL at ``/graphql`` (Strawberry): the REST reads as one graph, for frontends that pick fields.

``learner(id) { recommendations { course { similar { course { ... } } } } learningPath }`` and
``course(id)``. Each request reads one version of the store (one :class:`StoreView`, opened by the
context and closed after the response), under the same token rules as REST: ``recs:read``, and a
learner's token only for that learner. Limits: query depth (``LEARNREC_API_GRAPHQL_MAX_DEPTH``),
size in tokens (``_MAX_TOKENS``), page sizes as REST; introspection can be switched off
(``LEARNREC_API_GRAPHQL_INTROSPECTION=false``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import strawberry
from fastapi import FastAPI, HTTPException, Request
from strawberry.extensions import DisableIntrospection, MaxTokensLimiter, QueryDepthLimiter
from strawberry.fastapi import GraphQLRouter
from strawberry.types import Info

from exports.api.auth import Principal, Scope
from exports.api.store import StoreUnavailable, StoreView


@strawberry.type
class Course:
    course_id: strawberry.ID
    title: str | None
    domain: str | None
    format: str | None
    difficulty_score: float | None
    duration_hours: float | None
    quality_score: float | None
    skill_tags: list[str]
    prerequisites: list[str]

    @strawberry.field
    def similar(self, info: Info, n: int = 10) -> list[SimilarCourse]:
        rows = _view(info).similar_courses(str(self.course_id), _page(info, n))
        return [
            SimilarCourse(score=r.pop("score"), course=_course({k: v for k, v in r.items() if k != "rank"}))
            for r in rows
        ]


@strawberry.type
class SimilarCourse:
    score: float
    course: Course


@strawberry.type
class Recommendation:
    rank: int
    score: float
    reason: str
    model_version: str
    log_id: str
    signals_used: list[str]
    fallback: str | None
    course_id: strawberry.ID

    @strawberry.field
    def course(self, info: Info) -> Course | None:
        found = _view(info).course(str(self.course_id))
        return _course(found) if found else None


@strawberry.type
class PathStep:
    step: int
    course_id: strawberry.ID
    title: str | None
    reason: str
    source: str


@strawberry.type
class RecommendationPage:
    total: int
    next_offset: int | None
    items: list[Recommendation]


@strawberry.type
class Learner:
    learner_id: strawberry.ID
    version: str

    @strawberry.field
    def recommendations(
        self,
        info: Info,
        n: int = 10,
        offset: int = 0,
        domain: str | None = None,
        format: str | None = None,
    ) -> RecommendationPage:
        items, total = _view(info).recommendations(
            str(self.learner_id), _page(info, n), max(offset, 0), domain, format
        )
        more = offset + len(items) < total
        fields = {f.name for f in Recommendation.__strawberry_definition__.fields}
        return RecommendationPage(
            total=total,
            next_offset=offset + len(items) if more else None,
            items=[Recommendation(**{k: v for k, v in r.items() if k in fields}) for r in items],
        )

    @strawberry.field
    def learning_path(self, info: Info) -> list[PathStep]:
        return [PathStep(**s) for s in _view(info).learning_path(str(self.learner_id))]


def _course(row: dict[str, Any]) -> Course:
    return Course(
        **{**row, "skill_tags": row.get("skill_tags") or [], "prerequisites": row.get("prerequisites") or []}
    )


def _view(info: Info) -> StoreView:
    return info.context["view"]


def _page(info: Info, n: int) -> int:
    if not 1 <= n <= info.context["page_max"]:
        raise ValueError(f"n must be between 1 and {info.context['page_max']}")
    return n


@strawberry.type
class Query:
    @strawberry.field
    def learner(self, info: Info, learner_id: strawberry.ID) -> Learner | None:
        principal: Principal = info.context["principal"]
        if not principal.allows(Scope.RECS_READ, str(learner_id)):
            raise PermissionError(f"the token does not grant recs:read on learner {learner_id}")
        view = _view(info)
        return (
            Learner(learner_id=learner_id, version=view.run_id) if view.has_learner(str(learner_id)) else None
        )

    @strawberry.field
    def course(self, info: Info, course_id: strawberry.ID) -> Course | None:
        found = _view(info).course(str(course_id))
        return _course(found) if found else None


def add_graphql(app: FastAPI, services: Any) -> None:
    def context(request: Request) -> Iterator[dict[str, Any]]:
        principal = services.auth.authorize(request, Scope.RECS_READ)
        try:
            with services.store.view() as view:
                yield {"view": view, "principal": principal, "page_max": services.api.page_max}
        except StoreUnavailable as exc:
            raise HTTPException(
                503, str(exc), headers={"Retry-After": str(services.api.retry_after_seconds)}
            ) from None

    extensions: list[Any] = [
        QueryDepthLimiter(max_depth=services.api.graphql_max_depth),
        MaxTokensLimiter(max_token_count=services.api.graphql_max_tokens),
    ]
    if not services.api.graphql_introspection:
        extensions.append(DisableIntrospection())
    schema = strawberry.Schema(query=Query, extensions=extensions)
    router = GraphQLRouter(
        schema,
        context_getter=context,
        graphql_ide="graphiql" if services.api.graphql_introspection else None,
    )
    app.include_router(router, prefix="/graphql", tags=["graphql"])
