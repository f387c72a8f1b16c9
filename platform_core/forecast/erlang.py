"""Queueing models of one interval of the hotline: Erlang B, Erlang C (M/M/n, callers wait for
ever) and Erlang A (M/M/n+M, callers abandon after an exponential patience).

Times are in seconds; ``rate`` is arrivals per second, ``aht`` the mean handle time, ``patience``
the mean time a caller is willing to wait. The figures are the hotline's (DOMAIN.md section 8):
answer rate = answered / offered, service level = answered within T / offered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Prediction:
    agents: int
    answer_rate: float  # answered / offered
    service_level: float  # answered within T / offered
    wait_probability: float  # an arriving caller finds every agent busy
    asa_s: float | None  # mean wait of answered callers
    occupancy: float

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "agents": self.agents,
            "answer_rate": round(self.answer_rate, 4),
            "service_level": round(self.service_level, 4),
            "wait_probability": round(self.wait_probability, 4),
            "asa_s": None if self.asa_s is None else round(self.asa_s, 1),
            "occupancy": round(self.occupancy, 4),
        }


def erlang_b(load: float, agents: int) -> float:
    """Blocking probability of ``agents`` servers offered ``load`` Erlangs (no waiting room)."""
    if agents < 0 or load < 0:
        raise ValueError("agents and load must not be negative")
    b = 1.0
    for k in range(1, agents + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(load: float, agents: int) -> float:
    """Probability that a caller waits (M/M/n); 1 when the load reaches the agents."""
    if agents <= load:
        return 1.0
    b = erlang_b(load, agents)
    return agents * b / (agents - load * (1.0 - b))


def predict_c(
    rate: float, aht: float, agents: int, *, sl_s: float, patience: float | None = None
) -> Prediction:
    """Erlang C: nobody abandons. Its answer rate is read as the share of callers who would be
    answered within the mean patience (all of them when no patience is known)."""
    load = rate * aht
    if agents <= load:
        return Prediction(agents, 0.0, 0.0, 1.0, None, 1.0)
    c = erlang_c(load, agents)
    decay = (agents - load) / aht

    def within(t: float) -> float:
        return 1.0 - c * math.exp(-decay * t)

    answer = within(patience) if patience else 1.0
    return Prediction(
        agents=agents,
        answer_rate=answer,
        service_level=within(sl_s),
        wait_probability=c,
        asa_s=c * aht / (agents - load),
        occupancy=load / agents,
    )


def _stationary(rate: float, mu: float, theta: float, agents: int) -> list[float]:
    """Probabilities of k callers in the system (birth-death chain), cut where negligible."""
    weights = [1.0]
    k = 0
    total = 1.0
    while True:
        k += 1
        death = min(k, agents) * mu + max(k - agents, 0) * theta
        nxt = weights[-1] * rate / death
        weights.append(nxt)
        total += nxt
        if k > agents and nxt < 1e-13 * total:
            break
        if k > 100_000:
            raise ValueError("the queue does not settle: give callers a patience")
        if nxt > 1e250:  # rescale before floats overflow
            weights = [w / nxt for w in weights]
            total /= nxt
    return [w / total for w in weights]


def predict_a(rate: float, aht: float, patience: float, agents: int, *, sl_s: float) -> Prediction:
    """Erlang A (M/M/n+M, Palm's model): exact from the birth-death chain of callers in the
    system; the wait of an arriving caller follows the stages of the callers ahead of it."""
    if agents < 1:
        return Prediction(agents, 0.0, 0.0, 1.0, None, 0.0)
    mu, theta = 1.0 / aht, 1.0 / patience
    pi = _stationary(rate, mu, theta, agents)
    queue_mean = sum((k - agents) * p for k, p in enumerate(pi) if k > agents)
    abandon = theta * queue_mean / rate
    waiting = sum(pi[agents:])
    immediate = 1.0 - waiting
    served_in = immediate + _served_within(pi, agents, mu, theta, sl_s)
    # mean wait of answered callers, E[W; answered] / P(answered): a caller finding i ahead
    # passes the stages i .. 0, each over at rate r_j and advancing with (n*mu + j*theta) / r_j
    served_wait, served = 0.0, immediate
    progress, wait = 1.0, 0.0
    for j, p in enumerate(pi[agents:]):
        r = agents * mu + j * theta + theta
        progress *= (agents * mu + j * theta) / r
        wait += 1.0 / r
        served += p * progress
        served_wait += p * progress * wait
    answer = 1.0 - abandon
    return Prediction(
        agents=agents,
        answer_rate=answer,
        service_level=served_in,
        wait_probability=waiting,
        asa_s=served_wait / served if served > 0 else None,
        occupancy=min(1.0, rate * answer * aht / agents),
    )


def _served_within(pi: list[float], agents: int, mu: float, theta: float, t: float) -> float:
    """P(a caller who found everyone busy is answered within ``t``), by uniformisation of the
    stages: with j callers ahead, the caller advances at rate n*mu + j*theta and leaves at
    theta; the mass that advances past the head of the line by ``t`` is answered in time."""
    ahead = pi[agents:]
    if not ahead or t <= 0:
        return 0.0
    rates = [agents * mu + j * theta + theta for j in range(len(ahead))]
    lam = max(rates)
    # the state is "j callers ahead"; mass leaves by advancing (to j-1, or answered at j=0)
    # or by the caller's own abandonment
    state = list(ahead)
    answered_by_step: list[float] = []
    answered = 0.0
    steps = int(lam * t + 10 * math.sqrt(lam * t) + 20)
    for _ in range(steps):
        answered_by_step.append(answered)
        nxt = [0.0] * len(state)
        for j, mass in enumerate(state):
            if mass == 0.0:
                continue
            advance = (agents * mu + j * theta) / lam
            stay = 1.0 - rates[j] / lam
            nxt[j] += mass * stay
            if j == 0:
                answered += mass * advance
            else:
                nxt[j - 1] += mass * advance
        state = nxt
    answered_by_step.append(answered)
    # Poisson weights of the number of uniformised steps within t
    mean = lam * t
    log_w = -mean
    total = 0.0
    for m in range(len(answered_by_step)):
        if m:
            log_w += math.log(mean) - math.log(m)
        total += math.exp(log_w) * answered_by_step[m]
    return total


@dataclass(frozen=True)
class Requirement:
    """What an interval needs: the fewest agents that hold the answer-rate and service-level
    targets, under each model."""

    load: float
    erlang_c: Prediction
    erlang_a: Prediction


def agents_needed(
    rate: float,
    aht: float,
    patience: float | None,
    *,
    sl_s: float,
    answer_rate_target: float,
    service_level_target: float,
    max_agents: int = 2000,
) -> Requirement:
    """The fewest agents meeting both targets, by Erlang C and by Erlang A."""
    load = rate * aht
    if rate <= 0:
        zero_c = Prediction(0, 1.0, 1.0, 0.0, 0.0, 0.0)
        return Requirement(0.0, zero_c, zero_c)

    def meets(p: Prediction) -> bool:
        return p.answer_rate >= answer_rate_target and p.service_level >= service_level_target

    c_pred = None
    for n in range(max(1, math.floor(load) + 1), max_agents + 1):
        p = predict_c(rate, aht, n, sl_s=sl_s, patience=patience)
        if meets(p):
            c_pred = p
            break
    a_pred = None
    if patience:
        for n in range(max(1, math.floor(0.8 * load)), max_agents + 1):
            p = predict_a(rate, aht, patience, n, sl_s=sl_s)
            if meets(p):
                a_pred = p
                break
    if c_pred is None:
        raise ValueError("no staffing up to the limit meets the targets")
    return Requirement(load, c_pred, a_pred or c_pred)
