"""Registering an unknown caller from the screen pop: what an ID number says before the form is
sent, and the quick registration itself (the rest of the profile is filled in later)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor
from platform_core.elders import idcard
from platform_core.elders import service as elders
from platform_core.elders.models import Elder
from platform_core.elders.schemas import ElderIn
from platform_core.errors import ValidationFailed
from platform_core.regions import codes
from platform_core.regions import service as regions


def read_id_number(session: Session, *, id_number: str, scope_code: str) -> dict[str, Any]:
    """What the number says: birth date, age today, sex, and its county when the dictionary
    knows it and it lies in the user's region (a number from elsewhere presets nothing)."""
    parsed = idcard.parse_id_number(id_number)
    county = regions.canonical_code(session, parsed.area_code)
    region = None
    found = regions.find_region(session, county)
    if found is not None and codes.level_of(county) == 3 and codes.is_within(county, scope_code):
        region = {
            "code": county,
            "path": [r.code for r in regions.region_path(session, county)[1:]],
            "full_name": regions.full_name(session, county),
        }
    return {
        "id_number_valid": True,
        "birth_date": parsed.birth_date.isoformat(),
        "age": parsed.age_on(clock.today()),
        "sex": parsed.sex,
        "region": region,
        "warnings": [w.message for w in parsed.warnings],
    }


def register_caller(
    session: Session,
    *,
    actor: Actor,
    name: str,
    id_number: str,
    phone: str,
    address: str,
    region_code: str,
    living_arrangement: str,
) -> Elder:
    """Quick registration of an unknown caller: who, where, and the number they call from."""
    try:
        data = ElderIn.model_validate(
            {
                "name": name,
                "id_number": id_number,
                "address": address,
                "region_code": region_code,
                "living_arrangement": living_arrangement,
                "phones": [{"number": phone}],
            }
        )
    except ValidationError as exc:  # say which fields, in the domain's words
        errors = exc.errors()
        fields = sorted({str(e["loc"][0]) for e in errors if e.get("loc")}) or ["data"]
        messages = "; ".join(str(e.get("msg", "")) for e in errors)[:300]
        raise ValidationFailed(
            f"登记信息有误: {', '.join(fields)} ({messages}) / invalid registration",
            code="invalid_registration",
            fields=fields,
        ) from None
    return elders.register_elder(session, data=data, actor=actor)
