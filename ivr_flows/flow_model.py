"""The vocabulary of declarative IVR flows and their validation.

A flow file (``ivr_flows/flows/*.yaml``) names its prompts (text per language), its steps and
the step where anyone who is lost ends up (``operator``: always a person). Validation refuses
what would trap or confuse an elder: a step that does not exist, a prompt without text, a path
that can never be reached, a path that loops, a menu of more than four choices, ``0`` used for
anything but a person, or more than one repeat of a menu.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

LANGUAGES = ("zh", "mn")
MAX_MENU_CHOICES = 4
OPERATOR_KEY = "0"
_KEYS = frozenset("123456789*#")


class FlowError(ValueError):
    """A flow file that cannot serve calls; ``problems`` lists every reason found."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"流程无效 / invalid flow {source}: " + "; ".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- actions: what a step may do, with the parameters each one takes ---------------------------


class NoParams(_Strict):
    pass


class SetVariableParams(_Strict):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # ``{elder_id}``, ``{intent}``, ``{language}`` ... are filled from the call's context
    value: str


class SetLanguageParams(_Strict):
    language: Literal["zh", "mn"]


class OpenDraftOrderParams(_Strict):
    service_type: str = Field(min_length=1, max_length=40)


class ChooseQueueParams(_Strict):
    queue: str = Field(min_length=1, max_length=64)
    intent: str = Field(min_length=1, max_length=32)
    priority: int = Field(ge=0, le=10)


class RecordScoreParams(_Strict):
    # the ``collect`` step's ``into`` name that holds the key pressed
    from_: str = Field(alias="from", min_length=1)


class CareResponseParams(_Strict):
    response: Literal["well", "needs_help"]


ACTIONS: dict[str, type[_Strict]] = {
    "identify_caller": NoParams,  # phone -> elder, family contact or device SIM; before any prompt
    "set_variable": SetVariableParams,
    "set_language": SetLanguageParams,  # and remember it for a known elder
    "open_draft_order": OpenDraftOrderParams,
    "choose_queue": ChooseQueueParams,
    "request_callback": NoParams,  # a recall item that keeps the caller's place
    "load_survey_call": NoParams,  # which call and agent a survey is about
    "record_survey_score": RecordScoreParams,
    "load_care_call": NoParams,  # which care call attempt an outbound call belongs to
    "record_care_response": CareResponseParams,
}

CONDITIONS: dict[str, str] = {
    "device_sim": "来电号码是智能设备的 SIM 卡 / the caller is a device SIM",
    "high_risk": "登记的高风险老人 / a registered high-risk elder",
    "elder_known": "识别出唯一的老人 / one elder identified",
    "family": "来电者是老人的家属 / the caller is an emergency contact",
    "language_known": "老人已记住语言 / the elder's language is remembered",
    "long_wait": "预计等候时间超过阈值 / expected wait above the call-back threshold",
    "survey_call_known": "找到了被评价的通话或工单 / the call or order to rate is known",
    "care_call_known": "找到了关怀呼叫 / the care call attempt is known",
}


# --- steps ------------------------------------------------------------------------------------


class ActionStep(_Strict):
    type: Literal["action"]
    do: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    next: str

    @model_validator(mode="after")
    def _known_action(self) -> ActionStep:
        if self.do not in ACTIONS:
            raise ValueError(f"未知动作 / unknown action '{self.do}' (known: {', '.join(ACTIONS)})")
        try:
            ACTIONS[self.do].model_validate(self.with_)
        except ValidationError as exc:
            details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ValueError(
                f"动作 {self.do} 参数错误 / bad parameters for {self.do}: {details}"
            ) from None
        return self

    def params(self) -> Any:
        return ACTIONS[self.do].model_validate(self.with_)


class Case(_Strict):
    when: str
    goto: str

    @field_validator("when")
    @classmethod
    def _known_condition(cls, value: str) -> str:
        if value not in CONDITIONS:
            raise ValueError(
                f"未知条件 / unknown condition '{value}' (known: {', '.join(CONDITIONS)})"
            )
        return value


class BranchStep(_Strict):
    type: Literal["branch"]
    cases: list[Case] = Field(min_length=1)
    else_: str = Field(alias="else")


class PlayStep(_Strict):
    type: Literal["play"]
    prompt: str
    next: str


class MenuStep(_Strict):
    """Play ``prompt``; a key chooses. Silence or another key: ``invalid_prompt``, the menu once
    more (``repeats``), then the operator. ``0`` always reaches the operator."""

    type: Literal["menu"]
    prompt: str
    choices: dict[str, str]
    timeout_ms: int = Field(default=5000, ge=1000, le=20000)
    repeats: int = Field(default=1, ge=0, le=1)
    invalid_prompt: str | None = None

    @field_validator("choices", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        # YAML reads an unquoted 1: as an integer key
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("choices")
    @classmethod
    def _short_menu(cls, value: dict[str, str]) -> dict[str, str]:
        if OPERATOR_KEY in value:
            raise ValueError(
                "0 固定转人工, 不能另作他用 / key 0 always reaches a person and cannot be assigned"
            )
        if not value:
            raise ValueError("菜单至少要有一个选项 / a menu needs at least one choice")
        if len(value) > MAX_MENU_CHOICES:
            raise ValueError(
                f"菜单最多 {MAX_MENU_CHOICES} 个选项, 实有 {len(value)} 个 / "
                f"a menu offers at most {MAX_MENU_CHOICES} choices, this one has {len(value)}"
            )
        bad = [k for k in value if k not in _KEYS]
        if bad:
            raise ValueError(f"选项必须是单个按键 / choices must be single keys: {bad}")
        return value


class CollectStep(_Strict):
    """One key from ``valid`` into ``into``; after silence or other keys (and one repeat), ``on_fail``."""

    type: Literal["collect"]
    prompt: str
    valid: str = Field(min_length=1)
    into: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    timeout_ms: int = Field(default=5000, ge=1000, le=20000)
    repeats: int = Field(default=1, ge=0, le=1)
    invalid_prompt: str | None = None
    next: str
    on_fail: str

    @field_validator("valid")
    @classmethod
    def _keys(cls, value: str) -> str:
        bad = set(value) - _KEYS - {OPERATOR_KEY}
        if bad:
            raise ValueError(f"不是按键 / not keys: {''.join(sorted(bad))}")
        return value


class HandoffStep(_Strict):
    """Back to the dialplan, which queues the call. Unset fields keep what the call's context
    chose (``choose_queue``) or the flow's defaults."""

    type: Literal["handoff"]
    prompt: str | None = None
    queue: str | None = None
    intent: str | None = None
    priority: int | None = Field(default=None, ge=0, le=10)


class HangupStep(_Strict):
    type: Literal["hangup"]
    prompt: str | None = None


Step = Annotated[
    ActionStep | BranchStep | PlayStep | MenuStep | CollectStep | HandoffStep | HangupStep,
    Field(discriminator="type"),
]


_STEP_TYPES = frozenset({"action", "branch", "play", "menu", "collect", "handoff", "hangup"})


class FlowDefaults(_Strict):
    queue: str = "hotline-general"
    intent: str = "person"
    priority: int = Field(default=0, ge=0, le=10)


class Flow(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    title: str = ""
    languages: list[Literal["zh", "mn"]] = Field(default_factory=lambda: ["zh"], min_length=1)
    default_language: Literal["zh", "mn"] = "zh"
    start: str
    operator: str
    defaults: FlowDefaults = Field(default_factory=FlowDefaults)
    prompts: dict[str, dict[str, str]]
    steps: dict[str, Step]
    # sha256 of the file it was read from: the session record says which version served a call
    version: str = ""

    @model_validator(mode="after")
    def _coherent(self) -> Flow:
        problems = check_flow(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def prompt_text(self, prompt: str, language: str) -> str | None:
        texts = self.prompts.get(prompt, {})
        return texts.get(language) or texts.get(self.default_language)


def successors(step: Any, operator: str) -> list[str]:
    """Steps reachable from ``step`` in one move (a menu's silence path leads to the operator)."""
    if isinstance(step, ActionStep | PlayStep):
        return [step.next]
    if isinstance(step, BranchStep):
        return [c.goto for c in step.cases] + [step.else_]
    if isinstance(step, MenuStep):
        return [*step.choices.values(), operator]
    if isinstance(step, CollectStep):
        return [step.next, step.on_fail, operator]
    return []


def prompts_of(step: Any) -> list[str]:
    names = [getattr(step, "prompt", None), getattr(step, "invalid_prompt", None)]
    return [n for n in names if n]


def check_flow(flow: Flow) -> list[str]:
    """Every reason ``flow`` cannot serve calls (empty when it can)."""
    problems: list[str] = []
    steps = flow.steps
    if flow.default_language not in flow.languages:
        problems.append(
            f"默认语言 {flow.default_language} 不在 languages 中 / default_language not in languages"
        )
    for ref, what in ((flow.start, "start"), (flow.operator, "operator")):
        if ref not in steps:
            problems.append(f"{what} 指向不存在的步骤 / {what} names an unknown step '{ref}'")
    if flow.operator in steps and not isinstance(steps[flow.operator], HandoffStep):
        problems.append(
            f"operator 必须是转人工步骤 / operator '{flow.operator}' must be a handoff step"
        )
    for name, step in steps.items():
        for target in successors(step, flow.operator):
            if target not in steps:
                problems.append(
                    f"步骤 {name} 指向不存在的步骤 / step '{name}' goes to unknown step '{target}'"
                )
        for prompt in prompts_of(step):
            texts = flow.prompts.get(prompt)
            if texts is None:
                problems.append(
                    f"步骤 {name} 使用了未定义的提示音 / step '{name}' uses undefined prompt '{prompt}'"
                )
            elif not texts.get(flow.default_language):
                problems.append(
                    f"提示音 {prompt} 缺少 {flow.default_language} 文本 / prompt '{prompt}' has no "
                    f"{flow.default_language} text"
                )
    for prompt, texts in flow.prompts.items():
        unknown = set(texts) - set(LANGUAGES)
        if unknown:
            problems.append(
                f"提示音 {prompt} 含未知语言 / prompt '{prompt}' has unknown languages {sorted(unknown)}"
            )
    if flow.start not in steps:
        return problems
    # reachability from the start (the operator is reachable from every menu)
    seen: set[str] = set()
    stack = [flow.start]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(s for s in successors(steps[current], flow.operator) if s in steps)
    for name in steps:
        if name not in seen:
            problems.append(f"步骤 {name} 永远走不到 / step '{name}' can never be reached")
    # no loops: a caller must never go round in circles (a menu's one repeat is not a step)
    cycle = _find_cycle(flow)
    if cycle:
        problems.append("流程有循环 / the flow loops: " + " -> ".join(cycle))
    return problems


def _find_cycle(flow: Flow) -> list[str] | None:
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(flow.steps, white)
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        colour[name] = grey
        path.append(name)
        for nxt in successors(flow.steps[name], flow.operator):
            if nxt not in colour:
                continue
            if colour[nxt] == grey:
                return path[path.index(nxt) :] + [nxt]
            if colour[nxt] == white:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        colour[name] = black
        return None

    for name in flow.steps:
        if colour[name] == white:
            found = visit(name)
            if found:
                return found
    return None


def parse_flow(text: str, *, source: str = "<flow>") -> Flow:
    """Read and validate a flow; raise :class:`FlowError` listing every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FlowError(source, [f"YAML 语法错误 / YAML syntax error: {exc}"]) from None
    if not isinstance(data, dict):
        raise FlowError(source, ["文件内容不是一个流程 / the file does not hold a flow mapping"])
    data = {**data, "version": hashlib.sha256(text.encode()).hexdigest()[:16]}
    try:
        return Flow.model_validate(data)
    except ValidationError as exc:
        problems = [line for e in exc.errors() for line in _describe(e).split("\n") if line.strip()]
        raise FlowError(source, problems) from None


def load_flow_file(path: Path) -> Flow:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowError(str(path), [f"无法读取 / cannot read: {exc}"]) from None
    return parse_flow(text, source=str(path))


def _describe(error: Any) -> str:
    parts = [str(p) for p in error.get("loc", ())]
    if len(parts) >= 3 and parts[0] == "steps" and parts[2] in _STEP_TYPES:
        del parts[2]  # the discriminator pydantic adds to the location
    loc = ".".join(parts)
    msg = str(error.get("msg", "")).removeprefix("Value error, ")
    if error.get("type") == "union_tag_invalid":
        msg = f"未知步骤类型 / unknown step type: {error.get('input', {}).get('type')!r}"
    elif error.get("type") == "union_tag_not_found":
        msg = "步骤缺少 type / a step without a type"
    return f"{loc}: {msg}" if loc else msg
