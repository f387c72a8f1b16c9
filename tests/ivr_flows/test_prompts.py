"""Prompt files: rendering the Mandarin set with espeak-ng at 8 kHz, and the packaged set."""

from __future__ import annotations

import math
import shutil
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotline.cli import cli
from ivr_flows.prompts import read_wav_mono16, resample, speakable
from ivr_flows.registry import PACKAGED_FLOWS, FlowRegistry

ROOT = Path(__file__).resolve().parents[2]
FLOW = """
name: tiny
start: hello
operator: person
prompts:
  hello: {zh: 您好，这里是12349养老服务热线。}
  connecting: {zh: 正在为您转接服务人员，请稍候。}
steps:
  hello: {type: play, prompt: hello, next: person}
  person: {type: handoff, prompt: connecting}
"""


def rms(samples: list[int]) -> float:
    return math.sqrt(sum(x * x for x in samples) / len(samples))


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_cli_renders_8khz_mono_speech_and_keeps_recordings(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "tiny.yaml").write_text(FLOW, encoding="utf-8")
    out = tmp_path / "sounds"
    (out / "zh").mkdir(parents=True)
    recording = out / "zh" / "connecting.wav"
    recording.write_bytes(b"a real recording")

    result = CliRunner().invoke(cli, ["ivr", "prompts", "--flows", str(flows), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with wave.open(str(out / "zh" / "hello.wav"), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        assert w.getnframes() / 8000 > 1.0
    samples, _ = read_wav_mono16(out / "zh" / "hello.wav")
    assert rms(samples) > 300  # speech, not silence
    assert recording.read_bytes() == b"a real recording"  # never overwritten by default

    again = CliRunner().invoke(
        cli, ["ivr", "prompts", "--flows", str(flows), "--out", str(out), "--overwrite"]
    )
    assert again.exit_code == 0 and recording.read_bytes().startswith(b"RIFF")


def test_conflicting_texts_for_one_prompt_name_are_refused(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "a.yaml").write_text(FLOW, encoding="utf-8")
    (flows / "b.yaml").write_text(
        FLOW.replace("name: tiny", "name: other").replace("请稍候", "请等一下"), encoding="utf-8"
    )
    result = CliRunner().invoke(
        cli, ["ivr", "prompts", "--flows", str(flows), "--out", str(tmp_path / "s")]
    )
    assert result.exit_code != 0 and "connecting" in result.output


def test_numbers_are_read_digit_by_digit() -> None:
    assert speakable("这里是12349热线，请按1") == "这里是幺二三四九热线，请按1"


def test_resampling_keeps_speech_band_and_removes_what_would_alias() -> None:
    def tone(freq: float) -> list[int]:
        return [int(10000 * math.sin(2 * math.pi * freq * i / 22050)) for i in range(22050)]

    kept = resample(tone(1000), 22050, 8000)
    removed = resample(tone(6000), 22050, 8000)  # above 4 kHz: would fold back to 2 kHz
    assert len(kept) == 8000
    assert abs(rms(kept[100:-100]) - 10000 / math.sqrt(2)) < 200
    assert rms(removed[100:-100]) < 100


def test_every_packaged_prompt_has_a_mandarin_sound_file() -> None:
    sounds = ROOT / "asterisk_conf" / "sounds" / "zh"
    for flow in FlowRegistry(PACKAGED_FLOWS).flows():
        for prompt in flow.prompts:
            path = sounds / f"{prompt}.wav"
            assert path.is_file(), f"{flow.name}: no {path} (run: hotline ivr prompts)"
            with wave.open(str(path), "rb") as w:
                assert (w.getnchannels(), w.getframerate()) == (1, 8000)
