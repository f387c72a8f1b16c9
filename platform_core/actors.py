"""Who is acting: every command that changes state or reveals personal data takes an Actor,
so transitions and audit records say who did it, in which role and region."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"  # 坐席 / 话务员
    SUPERVISOR = "supervisor"  # 班长 / 值班主管
    ADMIN = "admin"  # 系统管理员
    PROVIDER = "provider"  # 服务商 / 服务人员
    OFFICER = "officer"  # 民政监管
    COMMUNITY_WORKER = "community_worker"  # 街道 / 社区工作人员 (苏木乡镇, 嘎查村)
    # community services: a service site's manager, a social worker, a volunteer
    SITE_MANAGER = "site_manager"  # 服务场所负责人 (社区站、日间照料中心、助餐点)
    SOCIAL_WORKER = "social_worker"  # 社会工作者
    VOLUNTEER = "volunteer"  # 志愿者
    # a provider's practitioner with a login of their own: their own assigned orders only
    STAFF = "staff"  # 服务人员 (从业人员)
    # an elder's family member, invited by the hotline (用户端): the elders they were invited for
    FAMILY = "family"  # 家属
    # 三员分立 (GB/T 22239): accounts and system, security and authorisation, audit
    SECURITY_ADMIN = "security_admin"  # 安全管理员
    AUDITOR = "auditor"  # 安全审计员


ROLE_LABELS = {
    Role.AGENT: "坐席",
    Role.SUPERVISOR: "值班主管",
    Role.ADMIN: "系统管理员",
    Role.PROVIDER: "服务商",
    Role.OFFICER: "民政监管",
    Role.COMMUNITY_WORKER: "社区工作人员",
    Role.SITE_MANAGER: "服务场所负责人",
    Role.SOCIAL_WORKER: "社会工作者",
    Role.VOLUNTEER: "志愿者",
    Role.STAFF: "服务人员",
    Role.FAMILY: "家属",
    Role.SECURITY_ADMIN: "安全管理员",
    Role.AUDITOR: "安全审计员",
}
# The three duties of 三员分立: one account never holds two of them.
SEPARATED_DUTY_ROLES = frozenset({Role.ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR})


@dataclass(frozen=True)
class Actor:
    kind: str  # "user", "system", "provider_api", "device", "ivr", "telephony"
    name: str
    region_code: str
    role: Role | None = None
    user_id: int | None = None
    provider_id: int | None = None
    # the practitioner (provider_staff row) a staff login belongs to
    staff_id: int | None = None

    @property
    def label(self) -> str:
        return f"{self.name}({ROLE_LABELS.get(self.role, self.kind) if self.role else self.kind})"


def system_actor(
    name: str = "系统", region_code: str = "150000000000", kind: str = "system"
) -> Actor:
    return Actor(kind=kind, name=name, region_code=region_code)
