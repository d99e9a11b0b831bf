"""GraphQL at /graphql: the same reads as REST, under the same tokens, with limits."""

from __future__ import annotations

from .conftest import Issuer, Running, Store, api_settings, serve

QUERY = """
query ($id: ID!) {
  learner(learnerId: $id) {
    version
    recommendations(n: 3) { total nextOffset items { rank logId modelVersion score reason
      course { courseId title format similar(n: 2) { score course { courseId } } } } }
    learningPath { step courseId source }
  }
}"""


def gql(api: Running, token: str | None, query: str, **variables: object):
    return api.post("/graphql", token, json={"query": query, "variables": variables})


def test_learner_recommendations_courses_similar_and_path(api: Running, issuer: Issuer, store: Store):
    learner = store.learners[0]
    response = gql(api, issuer.token(learner, "recs:read"), QUERY, id=learner)
    assert response.status_code == 200, response.text
    data = response.json()["data"]["learner"]
    rest = api.get(
        f"/learners/{learner}/recommendations", issuer.token(learner, "recs:read"), params={"n": 3}
    ).json()
    assert data["version"] == rest["version"] == "v1"
    assert [i["logId"] for i in data["recommendations"]["items"]] == [i["log_id"] for i in rest["items"]]
    assert data["recommendations"]["nextOffset"] == 3
    first = data["recommendations"]["items"][0]["course"]
    similar = api.get(
        f"/courses/{first['courseId']}/similar", issuer.token(learner, "recs:read"), params={"n": 2}
    ).json()
    assert [s["course"]["courseId"] for s in first["similar"]] == [s["course_id"] for s in similar["items"]]
    assert [s["step"] for s in data["learningPath"]] == [1, 2]


def test_tokens_apply_as_in_rest(api: Running, issuer: Issuer, store: Store):
    me, other = store.learners[:2]
    assert gql(api, None, QUERY, id=me).status_code == 401
    assert gql(api, issuer.token(me, "events:write"), QUERY, id=me).status_code == 403
    refused = gql(api, issuer.token(me, "recs:read"), QUERY, id=other).json()
    assert refused["data"]["learner"] is None and "recs:read on learner" in refused["errors"][0]["message"]
    assert (
        gql(api, issuer.service_token("recs:read"), QUERY, id=other).json()["data"]["learner"]["version"]
        == "v1"
    )


def test_depth_size_and_introspection_limits(world, store: Store, issuer: Issuer):
    deep = 'query { course(courseId: "C1") { ' + "similar { course { " * 5 + "courseId" + " } }" * 5 + " } }"
    token = issuer.service_token("recs:read")
    with serve(world.settings, api_settings(issuer, graphql_max_depth=6, graphql_introspection=False)) as api:
        too_deep = gql(api, token, deep).json()
        assert "exceeds maximum operation depth" in too_deep["errors"][0]["message"]
        assert (
            "introspection"
            in gql(api, token, "{ __schema { types { name } } }").json()["errors"][0]["message"].lower()
        )
        huge = (
            "query { " + " ".join(f'a{i}: course(courseId: "C1") {{ courseId }}' for i in range(400)) + " }"
        )
        assert "token" in gql(api, token, huge).json()["errors"][0]["message"].lower()
        assert gql(api, token, QUERY, id=store.learners[0]).json()["data"]["learner"]["version"] == "v1"
    with serve(world.settings, api_settings(issuer)) as api:
        assert (
            gql(api, token, "{ __schema { queryType { name } } }").json()["data"]["__schema"]["queryType"][
                "name"
            ]
            == "Query"
        )
