from __future__ import annotations

import pytest
from sqlalchemy import select

from platform_core.errors import OutOfRegion
from platform_core.regions import codes, service
from platform_core.regions.codes import InvalidRegionCode
from platform_core.regions.models import Region


def test_levels_and_prefixes() -> None:
    assert codes.level_of("150000000000") == 1
    assert codes.level_of("150100000000") == 2
    assert codes.level_of("150102000000") == 3
    assert codes.level_of("150102003000") == 4
    assert codes.level_of("150102003201") == 5
    assert codes.parent_of("150102003201") == "150102003000"
    assert codes.parent_of("150102000000") == "150100000000"
    assert codes.league_of("150102003201") == "150100000000"
    assert codes.township_kind("150102003000") == "街道"
    assert codes.township_kind("150121101000") == "镇"
    assert codes.village_kind("150121101201") == "村委会/嘎查"


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("15010", "6、9 或 12"),
        ("15a100", "数字"),
        ("000000", "00"),
        ("150102000012", "乡镇段"),
        ("150102650000", "001-599"),
    ],
)
def test_invalid_codes_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidRegionCode) as err:
        codes.normalize_code(raw)
    assert reason in err.value.message
    assert err.value.code == "invalid_region_code"


def test_dictionary_and_aliases(any_runtime) -> None:
    with any_runtime.session() as s:
        n = service.load_dictionary(s)
        assert n > 100
        assert n == service.load_dictionary(s)  # idempotent
        leagues = service.list_leagues(s)
        assert [r.name for r in leagues][:2] == ["呼和浩特市", "包头市"]
        assert len(leagues) == 12
        # old 乌兰察布盟 and 集宁市 codes resolve to today's city and district
        assert service.canonical_code(s, "152600") == "150900000000"
        assert service.canonical_code(s, "152601101202") == "150902101202"
        assert service.full_name(s, "150102000000") == "呼和浩特市新城区"


def test_scope_by_prefix(any_runtime) -> None:
    with any_runtime.session() as s:
        service.load_dictionary(s)
        village = service.ensure_region(s, "150121101201")
        assert village.level == 5 and village.parent_code == "150121101000"
        in_hohhot = s.scalars(
            select(Region.code).where(service.within(Region.code, "150100"))
        ).all()
        assert "150121101201" in in_hohhot and "150202000000" not in in_hohhot
        assert all(c.startswith("1501") for c in in_hohhot)
    service.require_within("150121101201", "150100000000")
    with pytest.raises(OutOfRegion):
        service.require_within("150202000000", "150100000000")
