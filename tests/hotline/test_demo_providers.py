"""The demo seed: providers in every 旗县区 with staff, valid codes and sensible coverage."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from hotline.demo_data.providers import seed_providers
from platform_core.actors import system_actor
from platform_core.catalogue import service as catalogue
from platform_core.elders.idcard import parse_id_number
from platform_core.providers import service as providers
from platform_core.providers.credit_code import normalize_credit_code
from platform_core.providers.models import Provider, ProviderStaff
from platform_core.regions.dictionary import LEAGUES
from platform_core.regions.service import load_dictionary


def test_seed_providers_covers_every_county(runtime) -> None:
    with runtime.session() as s:
        load_dictionary(s)
        catalogue.install_defaults(s, actor=system_actor())
        created = seed_providers(s, rng=random.Random(7))
    counties = [c for _, (_, _, cs) in LEAGUES.items() for c in cs]
    assert created == len(counties) * 3 + len(LEAGUES)
    with runtime.session() as s:
        assert seed_providers(s, rng=random.Random(8)) == 0  # counties already served are skipped
        assert s.scalar(select(func.count()).select_from(Provider)) == created
        for county in counties:
            region = county + "101201"  # a village somewhere in the county
            cleaning = providers.list_providers_covering(
                s, region_code=region, service_type_code="care_cleaning"
            )
            sos = providers.list_providers_covering(
                s, region_code=region, service_type_code="emergency_sos"
            )
            rehab = providers.list_providers_covering(
                s, region_code=region, service_type_code="medical_rehab"
            )
            assert len(cleaning) >= 2 and len(sos) >= 2 and rehab, county
        names = s.scalars(select(Provider.name)).all()
        assert any(n.endswith("居家养老服务中心") for n in names)
        assert any(n.endswith("社区卫生服务站") for n in names)
        assert all(normalize_credit_code(c) == c for c in s.scalars(select(Provider.credit_code)))
        staff = s.scalars(select(ProviderStaff)).all()
        assert len(staff) >= created * 3 * 0.9
        cipher = runtime.cipher
        for person in staff[:50]:
            parse_id_number(cipher.open(person.id_number_sealed))
            assert person.skills and set(person.skills) <= set(person.provider.service_type_codes)
