"""The official Microsoft Graph SDK for Python against a running Muster, changing only its base URL
and token. Run by crates/muster/tests/sdk.rs, which starts the server (demo data) and passes
MUSTER_SDK_URL and MUSTER_SDK_TOKEN (an analyst token)."""

import asyncio
import os

import pytest
from kiota_abstractions.authentication import ApiKeyAuthenticationProvider, KeyLocation
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.security.alert_classification import AlertClassification
from msgraph.generated.models.security.alert_comment import AlertComment
from msgraph.generated.models.security.alert_determination import AlertDetermination
from msgraph.generated.models.security.incident import Incident
from msgraph.generated.models.security.incident_status import IncidentStatus
from msgraph.generated.security.alerts_v2.microsoft_graph_security_move_alerts.move_alerts_post_request_body import (
    MoveAlertsPostRequestBody,
)
from msgraph.generated.security.incidents.incidents_request_builder import IncidentsRequestBuilder
from msgraph_core.tasks.page_iterator import PageIterator
from msgraph.generated.security.incidents.microsoft_graph_security_merge_incidents.merge_incidents_post_request_body import (
    MergeIncidentsPostRequestBody,
)


def client() -> GraphServiceClient:
    auth = ApiKeyAuthenticationProvider(KeyLocation.Header, f"Bearer {os.environ['MUSTER_SDK_TOKEN']}", "Authorization")
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = os.environ["MUSTER_SDK_URL"].rstrip("/") + "/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def run(coroutine):
    return asyncio.run(coroutine)


async def incidents(graph: GraphServiceClient, top: int = 10) -> list[Incident]:
    query = IncidentsRequestBuilder.IncidentsRequestBuilderGetQueryParameters(top=top)
    page = await graph.security.incidents.get(request_configuration=RequestConfiguration(query_parameters=query))
    return page.value


def test_list_with_filter_order_count_and_expand_then_follow_next_links():
    async def scenario():
        graph = client()
        query = IncidentsRequestBuilder.IncidentsRequestBuilderGetQueryParameters(
            top=10,
            count=True,
            filter="severity ge 'medium' and (status eq 'active' or status eq 'inProgress')",
            orderby=["severity desc", "lastActivityDateTime desc"],
            expand=["alerts"],
        )
        page = await graph.security.incidents.get(request_configuration=RequestConfiguration(query_parameters=query))
        assert page.odata_count and page.odata_count >= len(page.value) > 0
        assert page.odata_next_link is None or page.odata_next_link.startswith(os.environ["MUSTER_SDK_URL"])
        assert all(i.alerts for i in page.value), "each incident comes with its alerts"
        seen = []

        def collect(incident):
            seen.append((incident.id, incident.severity.value))
            return True

        await PageIterator(page, graph.request_adapter).iterate(collect)
        assert len(seen) == page.odata_count
        assert len({i for i, _ in seen}) == len(seen), "no incident twice across pages"
        ranks = ["unknown", "informational", "low", "medium", "high"]
        order = [ranks.index(s) for _, s in seen]
        assert order == sorted(order, reverse=True), "severity desc puts high first"

        with pytest.raises(ODataError) as refused:
            bad = IncidentsRequestBuilder.IncidentsRequestBuilderGetQueryParameters(filter="colour eq 'red'")
            await graph.security.incidents.get(request_configuration=RequestConfiguration(query_parameters=bad))
        assert refused.value.response_status_code == 400
        assert "colour" in refused.value.error.message

    run(scenario())


def test_update_an_incident():
    async def scenario():
        graph = client()
        target = (await incidents(graph))[0]
        change = Incident(
            status=IncidentStatus.Resolved,
            assigned_to="sdk@example.com",
            classification=AlertClassification.TruePositive,
            determination=AlertDetermination.Malware,
            custom_tags=["sdk"],
            resolving_comment="Closed from the SDK",
        )
        updated = await graph.security.incidents.by_incident_id(target.id).patch(change)
        assert updated.status == IncidentStatus.Resolved
        assert updated.assigned_to == "sdk@example.com"
        assert updated.determination == AlertDetermination.Malware
        assert updated.custom_tags == ["sdk"]
        again = await graph.security.incidents.by_incident_id(target.id).get()
        assert again.resolving_comment == "Closed from the SDK"

    run(scenario())


def test_comment_on_an_alert_and_read_it_back():
    async def scenario():
        graph = client()
        page = await graph.security.alerts_v2.get()
        alert = page.value[0]
        comments = await graph.security.alerts_v2.by_alert_id(alert.id).comments.post(
            [AlertComment(comment="Checked with the SDK")]
        )
        assert comments, "the SDK reads the comments back"
        assert comments[-1].comment == "Checked with the SDK"
        assert comments[-1].created_by_display_name
        stored = await graph.security.alerts_v2.by_alert_id(alert.id).get()
        assert any(c.comment == "Checked with the SDK" for c in stored.comments)

    run(scenario())


def test_move_alerts_and_merge_incidents():
    async def scenario():
        graph = client()
        page = await graph.security.alerts_v2.get()
        alert = page.value[-1]
        moved = await graph.security.alerts_v2.microsoft_graph_security_move_alerts.post(
            MoveAlertsPostRequestBody(alert_ids=[alert.id], alert_comment="split out")
        )
        assert moved.target_incident_id and moved.target_incident_id != alert.incident_id
        stored = await graph.security.alerts_v2.by_alert_id(alert.id).get()
        assert stored.incident_id == moved.target_incident_id

        merged = await graph.security.incidents.microsoft_graph_security_merge_incidents.post(
            MergeIncidentsPostRequestBody(incident_ids=[moved.target_incident_id, alert.incident_id], incident_comment="one attack")
        )
        survivor = min([moved.target_incident_id, alert.incident_id], key=int)
        assert merged.target_incident_id == survivor
        other = moved.target_incident_id if survivor != moved.target_incident_id else alert.incident_id
        redirected = await graph.security.incidents.by_incident_id(other).get()
        assert redirected.status == IncidentStatus.Redirected
        assert redirected.redirect_incident_id == survivor

    run(scenario())


def test_errors_are_odata_errors():
    async def scenario():
        graph = client()
        with pytest.raises(ODataError) as missing:
            await graph.security.incidents.by_incident_id("999999999").get()
        assert missing.value.response_status_code == 404
        assert missing.value.error.code == "itemNotFound"
        with pytest.raises(ODataError) as refused:
            await graph.security.incidents.by_incident_id("1").patch(Incident(status=IncidentStatus.Redirected))
        assert refused.value.response_status_code == 400
        assert "mergeIncidents" in refused.value.error.message

    run(scenario())
