"""Prompt files: which file a prompt plays, and rendering the Mandarin set with espeak-ng.

Files live in ``<sounds_dir>/<lang>/<prompt>.wav`` (8 kHz, 16-bit mono: Asterisk's native
``wav`` format), and Asterisk finds them as ``<prefix>/<lang>/<prompt>``. When a language has
no recording of a prompt yet, the default language's file plays instead.
"""

from __future__ import annotations

import logging
import math
import operator
import re
import shutil
import struct
import subprocess
import tempfile
import time
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ivr_flows.flow_model import Flow

log = logging.getLogger(__name__)

TARGET_RATE = 8000
ESPEAK_VOICES = {"zh": "cmn"}  # espeak-ng has no Mongolian voice: Mongolian prompts are recorded


class PromptLibrary:
    """Resolves prompts to the file names STREAM FILE plays, checking the local copy."""

    def __init__(self, sounds_dir: Path, prefix: str = "hotline", *, cache_s: float = 5.0) -> None:
        self.sounds_dir = sounds_dir
        self.prefix = prefix.strip("/")
        self._cache_s = cache_s
        self._exists: dict[tuple[str, str], tuple[float, bool]] = {}

    def path(self, prompt: str, language: str) -> Path:
        return self.sounds_dir / language / f"{prompt}.wav"

    def exists(self, prompt: str, language: str) -> bool:
        key = (prompt, language)
        now = time.monotonic()
        cached = self._exists.get(key)
        if cached is not None and now - cached[0] < self._cache_s:
            return cached[1]
        found = self.path(prompt, language).is_file()
        self._exists[key] = (now, found)
        return found

    def file_for(self, flow: Flow, prompt: str, language: str) -> str:
        """The name to stream: the caller's language, else the flow's default language."""
        other = language != flow.default_language
        if (
            other
            and not self.exists(prompt, language)
            and self.exists(prompt, flow.default_language)
        ):
            language = flow.default_language
        return f"{self.prefix}/{language}/{prompt}" if self.prefix else f"{language}/{prompt}"

    def missing(self, flow: Flow) -> list[str]:
        """``lang/prompt`` for every prompt the flow uses with no file in any language it speaks."""
        out = []
        for prompt in sorted(flow.prompts):
            if not self.exists(prompt, flow.default_language):
                out.append(f"{flow.default_language}/{prompt}")
        return out


@dataclass(frozen=True)
class RenderedPrompt:
    name: str
    path: Path
    seconds: float


class PromptConflict(ValueError):
    """Two flows give the same prompt name different texts (they would share one file)."""


def prompt_texts(flows: Iterable[Flow], language: str) -> dict[str, str]:
    texts: dict[str, str] = {}
    for flow in flows:
        for name in flow.prompts:
            text = flow.prompts[name].get(language)
            if not text:
                continue
            if name in texts and texts[name] != text:
                raise PromptConflict(
                    f"提示音 {name} 在不同流程中文本不同 / prompt '{name}' has different texts in two flows"
                )
            texts[name] = text
    return texts


_DIGIT_NAMES = dict(zip("0123456789", "零幺二三四五六七八九", strict=True))
_DIGIT_RUN = re.compile(r"\d{3,}")


def speakable(text: str) -> str:
    """Numbers of three digits or more (12349, phone numbers) are read digit by digit, with 1 as
    幺, as Chinese speakers read them; espeak-ng would say 一万两千三百四十九."""
    return _DIGIT_RUN.sub(lambda m: "".join(_DIGIT_NAMES[d] for d in m.group()), text)


def render_prompts(
    flows: Iterable[Flow],
    sounds_dir: Path,
    *,
    language: str = "zh",
    overwrite: bool = False,
    espeak: str = "espeak-ng",
) -> list[RenderedPrompt]:
    """Speak each prompt's text with espeak-ng into ``sounds_dir/<language>/<name>.wav`` (8 kHz
    mono). Existing files (real recordings) are kept unless ``overwrite``."""
    voice = ESPEAK_VOICES.get(language)
    if voice is None:
        raise ValueError(f"没有 {language} 的合成语音 / no text-to-speech voice for {language}")
    binary = shutil.which(espeak)
    if binary is None:
        raise FileNotFoundError("未安装 espeak-ng / espeak-ng is not installed")
    out_dir = sounds_dir / language
    out_dir.mkdir(parents=True, exist_ok=True)
    rendered = []
    for name, text in sorted(prompt_texts(flows, language).items()):
        target = out_dir / f"{name}.wav"
        if target.exists() and not overwrite:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "speech.wav"
            subprocess.run(
                [binary, "-v", voice, "-w", str(raw), speakable(text)],
                check=True,
                capture_output=True,
            )
            samples, rate = read_wav_mono16(raw)
        converted = resample(samples, rate, TARGET_RATE)
        write_wav_mono16(target, converted, TARGET_RATE)
        rendered.append(RenderedPrompt(name, target, len(converted) / TARGET_RATE))
        log.info("已生成提示音 / rendered prompt %s (%.1f s)", target, len(converted) / TARGET_RATE)
    return rendered


def read_wav_mono16(path: Path) -> tuple[list[int], int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: 只支持 16 位 / only 16-bit WAV")
        frames = w.readframes(w.getnframes())
        channels = w.getnchannels()
        rate = w.getframerate()
    samples = list(struct.unpack(f"<{len(frames) // 2}h", frames))
    if channels > 1:
        samples = [
            sum(samples[i : i + channels]) // channels for i in range(0, len(samples), channels)
        ]
    return samples, rate


def write_wav_mono16(path: Path, samples: list[int], rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))


def resample(samples: list[int], rate: int, target: int, *, taps: int = 12) -> list[int]:
    """Band-limited resampling (windowed sinc, Hann window) without audioop or numpy.

    Going down to 8 kHz the filter cuts below the new Nyquist frequency, so speech does not fold
    back as aliasing hiss on the phone line. The ratio is rational (22050 -> 8000 is 160/441), so
    the filter has one kernel per output phase, computed once.
    """
    if rate == target or not samples:
        return list(samples)
    g = math.gcd(rate, target)
    up, down = target // g, rate // g
    ratio = target / rate
    cutoff = min(1.0, ratio) * 0.95  # as a fraction of the input Nyquist frequency
    half = taps if ratio >= 1 else int(math.ceil(taps / ratio))
    kernels: list[list[float]] = []
    for phase in range(up):
        frac = phase / up
        weights = []
        for i in range(-half + 1, half + 1):
            x = i - frac
            sinc = cutoff if x == 0 else math.sin(math.pi * cutoff * x) / (math.pi * x)
            weights.append(sinc * (0.5 + 0.5 * math.cos(math.pi * x / (half + 1))))
        total = sum(weights)
        kernels.append([w / total for w in weights])
    padded = [0] * half + list(samples) + [0] * (half + 1)
    out = []
    for j in range(len(samples) * up // down):
        base, phase = divmod(j * down, up)
        window = padded[base + 1 : base + 2 * half + 1]
        value = sum(map(operator.mul, kernels[phase], window))
        out.append(max(-32768, min(32767, int(round(value)))))
    return out
