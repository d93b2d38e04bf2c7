"""/api/v1/consultations, /broadcasts and /updates."""
from __future__ import annotations

from datetime import date

from engage.broadcasts import fire_broadcast
from engage.calendar import create_consultation
from engage.contacts import create_contact
from engage.segments import create_segment
from engage.updates import create_update
from tests.support.contacts import mobile


def test_consultations_are_listed_and_filtered(client, services, read_headers):
    with services.db.session() as s:
        create_consultation(s, flow_id="street-safety", opens=date(2026, 12, 1), closes=date(2026, 12, 31),
                            now=services.clock.now(), title="Street lights")
        create_consultation(s, flow_id="residents-satisfaction", opens=date(2027, 1, 11), closes=date(2027, 2, 28),
                            now=services.clock.now())
    body = client.get("/api/v1/consultations", headers=read_headers).json
    assert [(c["flow_id"], c["status"]) for c in body["data"]] == [("street-safety", "open"),
                                                                  ("residents-satisfaction", "planned")]
    planned = client.get("/api/v1/consultations?status=planned", headers=read_headers).json["data"]
    assert [c["flow_id"] for c in planned] == ["residents-satisfaction"]
    one = client.get(f"/api/v1/consultations/{planned[0]['id']}", headers=read_headers).json
    assert one["opens"] == "2027-01-11"
    assert client.get("/api/v1/consultations?status=soon", headers=read_headers).json["error"]["field"] == "status"


def test_a_broadcast_is_created_fired_reported_and_cancelled(client, services, read_headers, write_headers):
    with services.db.session() as s:
        create_contact(s, services.clock.now(), phone=mobile(1), fields={"ward": "Netteswell"}, consent_source="form")
        segment_id = create_segment(s, "Netteswell", {"field": "ward", "in": ["Netteswell"]},
                                    services.clock.now()).id
    body = {"name": "Bins", "segment_id": segment_id, "texts": {"en": "Bins go out on Tuesday."}}
    assert client.post("/api/v1/broadcasts", json=body, headers=read_headers).status_code == 403
    created = client.post("/api/v1/broadcasts", json=body, headers=write_headers)
    assert created.status_code == 201, created.json
    broadcast_id = created.json["id"]
    fire_broadcast(services, broadcast_id)
    report = client.get(f"/api/v1/broadcasts/{broadcast_id}", headers=read_headers).json
    assert report["report"]["occurrences"][0]["queued"] == 1
    assert report["report"]["delivery"] == {"queued": 1}
    assert report["message_class"] == "service"  # the default
    promo = client.post("/api/v1/broadcasts", json={**body, "message_class": "promotional"}, headers=write_headers)
    assert promo.status_code == 201 and promo.json["message_class"] == "promotional"
    fire_broadcast(services, promo.json["id"])
    report = client.get(f"/api/v1/broadcasts/{promo.json['id']}", headers=read_headers).json
    # The resident's consent source covers service messages only.
    assert report["report"]["occurrences"][0]["skipped"] == {"no_promotional_basis": 1}
    bad = client.post("/api/v1/broadcasts", json={**body, "message_class": "marketing"}, headers=write_headers)
    assert (bad.status_code, bad.json["error"]["field"]) == (422, "message_class")
    client.post(f"/api/v1/broadcasts/{promo.json['id']}/cancel", headers=write_headers)
    for bad, field in (({**body, "segment_id": 999}, "segment_id"), ({**body, "texts": {"en": " "}}, "texts"),
                       ({**body, "schedule": "once"}, "send_at"), ({**body, "colour": "red"}, "colour")):
        response = client.post("/api/v1/broadcasts", json=bad, headers=write_headers)
        assert (response.status_code, response.json["error"]["field"]) == (422, field), bad
    cancelled = client.post(f"/api/v1/broadcasts/{broadcast_id}/cancel", headers=write_headers).json
    assert cancelled["status"] == "cancelled"
    listed = client.get("/api/v1/broadcasts", headers=read_headers).json["data"]
    assert sorted(b["id"] for b in listed) == [broadcast_id, promo.json["id"]]


def test_updates_are_listed_with_delivery(client, services, read_headers):
    with services.db.session() as s:
        update_id = create_update(s, services.registry.get("street-safety"),
                                  {"en": {"said": "You said it is dark", "did": "We added lights", "why": "Safety"}},
                                  services.clock.now()).id
    listed = client.get("/api/v1/updates", headers=read_headers).json["data"]
    assert [(u["id"], u["status"]) for u in listed] == [(update_id, "draft")]
    one = client.get(f"/api/v1/updates/{update_id}", headers=read_headers).json
    assert one["texts"]["en"]["did"] == "We added lights" and one["delivery"] == {}
    assert client.get("/api/v1/updates/77", headers=read_headers).status_code == 404
