"""Rotating the data key without downtime: while `hotline keys rotate` reseals batch by batch,
every value opens (it names its key) and lookups by ID number find rows under either key; when
it is done the old key can go."""

from __future__ import annotations

import base64
import secrets
from datetime import date

import pytest

from platform_core.actors import system_actor
from platform_core.elders import service as elders
from platform_core.elders.idcard import make_id_number
from platform_core.elders.models import Elder
from platform_core.elders.schemas import ElderIn, HealthIn
from platform_core.flows import key_rotation as rotation
from platform_core.runtime import build_runtime, cipher_of
from platform_core.security.crypto import FieldCipher

NUMBERS = [make_id_number("150102", date(1940, 1, 1 + i), 30 + i) for i in range(7)]


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def test_values_name_their_key_and_old_ones_still_open() -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    legacy = FieldCipher(old)
    sealed = legacy.seal("150102194001011234")
    ring = FieldCipher(new, [old])
    assert sealed.split(":")[1] == legacy.key_id != ring.key_id
    assert ring.open(sealed) == "150102194001011234"
    assert legacy.blind_index("x") in ring.blind_indexes("x")
    with pytest.raises(ValueError):
        FieldCipher(new).open(sealed)  # the old key gone: refused, never garbage


def test_rotation_reseals_in_batches_while_everything_still_reads(regions, pg_engine) -> None:
    with regions.session() as s:
        for i, number in enumerate(NUMBERS):
            elders.register_elder(
                s,
                actor=system_actor(),
                data=ElderIn(
                    name="张秀英王桂兰李建国巴特尔刘玉兰赵志强其其格"[i * 3 : i * 3 + 3],
                    id_number=number,
                    address="呼和浩特",
                    region_code="150102000000",
                    health=HealthIn(allergies=["青霉素"]),
                ),
            )
    new_key = _key()
    rotated = regions.settings.with_overrides(
        data_key=new_key, data_keys_retired=regions.settings.data_key
    )
    rt = build_runtime(rotated, engine=pg_engine, start_jobs=False)
    try:
        with rt.session() as s:
            assert rotation.count_stale(s)["elders.id_number_sealed"] == len(NUMBERS)
            assert elders.find_elder_by_id_number(s, id_number=NUMBERS[0]) is not None
        seen: list[int] = []

        def between_batches(p: rotation.Progress) -> None:
            seen.append(p.left)
            with rt.session() as s:  # mid-rotation: every elder found and readable
                for number in NUMBERS:
                    elder = elders.find_elder_by_id_number(s, id_number=number)
                    assert elder is not None
                    assert cipher_of(s).open(elder.id_number_sealed) == number
                    assert elders.open_health(s, elder=elder)["allergies"] == ["青霉素"]

        done = rotation.reseal(rt.session_factory, batch_size=2, progress=between_batches)
        assert done["elders.id_number_sealed"] == len(NUMBERS) and 0 in seen and max(seen) > 0
        with rt.session() as s:
            assert sum(rotation.count_stale(s).values()) == 0
    finally:
        rt.close()
    only_new = build_runtime(
        regions.settings.with_overrides(data_key=new_key), engine=pg_engine, start_jobs=False
    )
    try:
        with only_new.session() as s:  # the old key is gone and nothing is lost
            for number in NUMBERS:
                elder = elders.find_elder_by_id_number(s, id_number=number)
                assert elder is not None and cipher_of(s).open(elder.id_number_sealed) == number
            assert s.query(Elder).count() == len(NUMBERS)
    finally:
        only_new.close()
