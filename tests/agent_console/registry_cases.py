"""The registries' endpoints for the guard tables of test_guards. Region refusals of the
registries' own records are tested with their features in test_registry_pages."""

from __future__ import annotations

from typing import Any


def registry_cases(case: Any) -> dict[str, Any]:
    return {
        "registry.elders_page": case("GET", "/registry/elders", scope="content"),
        "registry.elders_export": case("GET", "/registry/elders/export.xlsx", scope="content"),
        "registry.elder_new": case("GET", "/registry/elders/new"),
        "registry.elder_create": case("POST", "/registry/elders", {}, scope="content"),
        "registry.elder_page": case("GET", "/registry/elders/{elder_bt}", scope="elder"),
        "registry.elder_reveal": case(
            "POST", "/registry/elders/{elder_bt}/reveal", {}, scope="elder"
        ),
        "registry.elder_edit": case(
            "POST", "/registry/elders/{elder_bt}/edit", {"address": "包头某处"}, scope="elder"
        ),
        "registry.contact_add": case(
            "POST",
            "/registry/elders/{elder_bt}/contacts",
            {"name": "王小明", "phone": "13800472001"},
            scope="elder",
        ),
        "registry.contact_change": case(
            "POST", "/registry/elders/{elder_bt}/contacts/1/key", {}, scope="elder"
        ),
        "registry.consent_add": case(
            "POST",
            "/registry/elders/{elder_bt}/consents",
            {"consenter_name": "其其格", "consented_on": "2026-01-05"},
            scope="elder",
        ),
        "registry.consent_withdraw": case(
            "POST",
            "/registry/elders/{elder_bt}/consents/1/withdraw",
            {"withdrawn_on": "2026-01-05"},
            scope="elder",
        ),
        "registry.elder_death": case(
            "POST", "/registry/elders/{elder_bt}/death", {"died_on": "2026-01-05"}, scope="elder"
        ),
        # the data exchange: the signed interface authenticates itself (test_exchange_api);
        # the officers' page and keys are scoped to the officer's region (test_exchange_pages)
        "exchange.receive_batch": case(public=True),
        "exchange.receive_export": case(public=True),
        "exchange.exchange_page": case("GET", "/registry/exchange", scope="content"),
        "exchange.exchange_template": case("GET", "/registry/exchange/template/deaths.xlsx"),
        "exchange.exchange_upload": case("POST", "/registry/exchange/upload", {}, scope="content"),
        "exchange.batch_page": case("GET", "/registry/exchange/batches/999999", scope="content"),
        "exchange.create_export": case("POST", "/registry/exchange/exports", {}, scope="content"),
        "exchange.received_download": case(
            "GET", "/registry/exchange/received/999999/elders.csv", scope="content"
        ),
        "exchange.list_keys": case("GET", "/api/exchange/keys", scope="content"),
        "exchange.issue_key": case(
            "POST",
            "/api/exchange/keys",
            {"party": "public_security", "region_code": "150200000000"},
            scope="content",
        ),
        "exchange.revoke_key": case("POST", "/api/exchange/keys/ex_x/revoke", {}, scope="content"),
        "registry.imports_page": case("GET", "/registry/imports/elders", scope="content"),
        "registry.import_template": case("GET", "/registry/imports/elders/template.xlsx"),
        "registry.import_upload": case("POST", "/registry/imports/elders", {}, scope="content"),
        "registry.import_batch": case("GET", "/registry/imports/batch/999999", scope="content"),
        "registry.import_step": case(
            "POST", "/registry/imports/batch/999999/check", {}, scope="content"
        ),
        "registry.import_progress": case("GET", "/api/registry/imports/999999", scope="content"),
        "devices_registry.devices_page": case("GET", "/registry/devices", scope="content"),
        "devices_registry.device_register": case("POST", "/registry/devices", {}, scope="content"),
        "devices_registry.device_page": case("GET", "/registry/devices/999999", scope="content"),
        "devices_registry.device_action": case(
            "POST", "/registry/devices/999999/install", {}, scope="content"
        ),
        "devices_registry.repair_board": case("GET", "/registry/repairs", scope="content"),
        "devices_registry.repair_step": case(
            "POST", "/registry/repairs/999999/on_site", {}, scope="content"
        ),
        "devices_registry.visits_page": case("GET", "/registry/visits", scope="content"),
        "provider_records.records_page": case("GET", "/provider/records"),
        "provider_records.orders_csv": case("GET", "/provider/records/orders.csv"),
        "provider_records.credit_csv": case("GET", "/provider/records/credit.csv"),
        "provider_records.evaluation_pdf": case("GET", "/provider/records/evaluations/9.pdf"),
        "provider_records.settlement_csv": case("GET", "/provider/records/settlements/9.csv"),
        "devices_registry.visit_record": case(
            "POST", "/registry/visits/999999", {}, scope="content"
        ),
        # the provider registry (officers; region refusals in test_registry_providers)
        "registry_providers.providers_page": case("GET", "/registry/providers", scope="content"),
        "registry_providers.provider_new": case("GET", "/registry/providers/new"),
        "registry_providers.provider_create": case(
            "POST", "/registry/providers", {}, scope="content"
        ),
        "registry_providers.provider_page": case(
            "GET", "/registry/providers/999999", scope="content"
        ),
        "registry_providers.provider_action": case(
            "POST", "/registry/providers/999999/status", {}, scope="content"
        ),
    }
