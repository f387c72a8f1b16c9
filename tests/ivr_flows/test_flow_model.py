"""Flow files: what validation refuses, reloading on change, and ``hotline ivr check``."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hotline.cli import cli
from ivr_flows import actions
from ivr_flows.flow_model import ACTIONS, CONDITIONS, FlowError, parse_flow
from ivr_flows.registry import PACKAGED_FLOWS, FlowRegistry
from tests.ivr_flows.conftest import start_server, stop_server

GOOD = textwrap.dedent(
    """
    name: demo
    start: menu
    operator: person
    prompts:
      menu: {zh: 请按1或2。}
      bye: {zh: 再见。}
    steps:
      menu:
        type: menu
        prompt: menu
        choices: {"1": one, "2": person}
      one:
        type: hangup
        prompt: bye
      person:
        type: handoff
        queue: hotline-general
    """
)


def mutate(**steps: object) -> str:
    data = yaml.safe_load(GOOD)
    for name, step in steps.items():
        if step is None:
            data["steps"].pop(name)
        else:
            data["steps"][name] = step
    return yaml.safe_dump(data, allow_unicode=True)


def problems_of(text: str) -> list[str]:
    with pytest.raises(FlowError) as exc:
        parse_flow(text, source="test.yaml")
    return exc.value.problems


def test_packaged_flows_are_valid_and_name_only_known_actions() -> None:
    registry = FlowRegistry(PACKAGED_FLOWS)
    assert registry.errors() == {}
    assert registry.names() == ["carecall", "main", "survey"]
    # the vocabulary a flow may use is exactly what the engine implements
    assert set(ACTIONS) == set(actions._ACTIONS)
    assert set(CONDITIONS) == set(actions._CONDITIONS)


def test_unknown_step_is_refused() -> None:
    found = problems_of(
        mutate(
            one={"type": "hangup"},
            menu={"type": "menu", "prompt": "menu", "choices": {"1": "one", "2": "nowhere"}},
        )
    )
    assert any("unknown step 'nowhere'" in p for p in found)


def test_unknown_step_type_action_and_condition_are_refused() -> None:
    found = problems_of(mutate(one={"type": "teleport"}))
    assert any("unknown step type" in p and "teleport" in p for p in found)
    found = problems_of(mutate(one={"type": "action", "do": "launch_rocket", "next": "person"}))
    assert any("unknown action 'launch_rocket'" in p for p in found)
    found = problems_of(
        mutate(
            one={
                "type": "branch",
                "cases": [{"when": "full_moon", "goto": "person"}],
                "else": "person",
            }
        )
    )
    assert any("unknown condition 'full_moon'" in p for p in found)
    found = problems_of(
        mutate(
            one={"type": "action", "do": "choose_queue", "with": {"queue": "q"}, "next": "person"}
        )
    )
    assert any("bad parameters for choose_queue" in p for p in found)


def test_missing_prompt_is_refused() -> None:
    found = problems_of(mutate(one={"type": "hangup", "prompt": "farewell"}))
    assert any("undefined prompt 'farewell'" in p for p in found)
    data = yaml.safe_load(GOOD)
    data["prompts"]["bye"] = {"mn": "баяртай"}
    found = problems_of(yaml.safe_dump(data, allow_unicode=True))
    assert any("prompt 'bye' has no zh text" in p for p in found)


def test_unreachable_step_is_refused() -> None:
    found = problems_of(mutate(orphan={"type": "hangup", "prompt": "bye"}))
    assert any("step 'orphan' can never be reached" in p for p in found)


def test_loop_is_refused() -> None:
    found = problems_of(mutate(one={"type": "play", "prompt": "bye", "next": "menu"}))
    assert any("the flow loops: menu -> one -> menu" in p for p in found)


def test_menu_rules() -> None:
    five = {str(k): "person" for k in range(1, 6)}
    found = problems_of(mutate(menu={"type": "menu", "prompt": "menu", "choices": five}))
    assert any("at most 4 choices, this one has 5" in p for p in found)
    found = problems_of(
        mutate(menu={"type": "menu", "prompt": "menu", "choices": {"0": "one", "1": "one"}})
    )
    assert any("key 0 always reaches a person" in p for p in found)
    found = problems_of(
        mutate(menu={"type": "menu", "prompt": "menu", "choices": {"1": "one"}, "repeats": 3})
    )
    assert any("repeats" in p for p in found)
    data = yaml.safe_load(GOOD)
    data["operator"] = "one"
    assert any(
        "must be a handoff step" in p for p in problems_of(yaml.safe_dump(data, allow_unicode=True))
    )


def test_yaml_syntax_error_is_refused() -> None:
    assert any("YAML syntax error" in p for p in problems_of("name: [unclosed\n"))


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    # a new mtime even within the filesystem's timestamp granularity
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_registry_reloads_on_change_and_keeps_the_last_good_flow(tmp_path: Path, caplog) -> None:
    path = tmp_path / "demo.yaml"
    _write(path, GOOD)
    registry = FlowRegistry(tmp_path, check_interval=0.0)
    first = registry.get("demo")
    assert first is not None

    _write(path, mutate(one={"type": "play", "prompt": "bye", "next": "menu"}))
    kept = registry.get("demo")
    assert kept is first  # the broken edit does not replace it
    assert "the flow loops" in caplog.text and f"继续使用上一版 {first.version}" in caplog.text
    assert path in registry.errors()

    _write(path, GOOD.replace("请按1或2。", "请按1。"))
    fixed = registry.get("demo")
    assert fixed is not None and fixed.version != first.version
    assert registry.errors() == {}


def test_edited_flow_serves_the_next_call_and_a_broken_edit_changes_nothing(
    regions, sounds_dir, tmp_path
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    _write(flows / "demo.yaml", GOOD)
    running = start_server(regions, flows, sounds_dir)
    try:
        assert running.call("demo", digits=["2"]).variables["HOTLINE_QUEUE"] == "hotline-general"
        _write(
            flows / "demo.yaml", GOOD.replace("queue: hotline-general", "queue: hotline-emergency")
        )
        assert running.call("demo", digits=["2"]).variables["HOTLINE_QUEUE"] == "hotline-emergency"
        _write(flows / "demo.yaml", GOOD.replace("choices:", "choices: {}\n        broken:"))
        time.sleep(0.01)
        assert running.call("demo", digits=["2"]).variables["HOTLINE_QUEUE"] == "hotline-emergency"
    finally:
        stop_server(running)


def test_cli_check(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(mutate(orphan={"type": "hangup"}), encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(cli, ["ivr", "check", str(good)])
    assert ok.exit_code == 0 and "valid flow: demo" in ok.output
    refused = runner.invoke(cli, ["ivr", "check", str(bad)])
    assert refused.exit_code == 1
    assert "step 'orphan' can never be reached" in refused.output
    for packaged in sorted(PACKAGED_FLOWS.glob("*.yaml")):
        assert runner.invoke(cli, ["ivr", "check", str(packaged)]).exit_code == 0
