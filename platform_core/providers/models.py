"""Service providers (服务商), the regions they cover, the services they offer, their staff.

A provider's current load is not stored: it is the count of its orders in an active status,
derived by ``platform_core.orders.service.provider_loads`` so it can never drift.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from platform_core.db import Base, utcnow


class ProviderStatus(StrEnum):
    """The outcome of provider evaluation (DOMAIN.md section 10), which dispatch obeys."""

    NORMAL = "normal"  # 正常
    WARNING = "warning"  # 预警
    REDUCED = "reduced"  # 减少派单
    SUSPENDED = "suspended"  # 暂停派单
    TERMINATED = "terminated"  # 终止合作


STATUS_LABELS = {
    ProviderStatus.NORMAL: "正常",
    ProviderStatus.WARNING: "预警",
    ProviderStatus.REDUCED: "减少派单",
    ProviderStatus.SUSPENDED: "暂停派单",
    ProviderStatus.TERMINATED: "终止合作",
}

# Statuses that take no new orders at all.
CLOSED_STATUSES = frozenset({ProviderStatus.SUSPENDED, ProviderStatus.TERMINATED})


class ProviderGrade(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


class Provider(Base):
    __tablename__ = "providers"
    __table_args__ = (
        Index(
            "ix_providers_region_prefix",
            "region_code",
            postgresql_ops={"region_code": "varchar_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    # 居家养老服务中心, 社区卫生服务站, 家政服务公司, 助餐点, 社会工作服务机构 ...
    kind: Mapped[str] = mapped_column(String(30), default="")
    # Where the organisation is registered; its service area is ``coverage``.
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    address: Mapped[str] = mapped_column(String(255), default="")
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    contact_phone: Mapped[str] = mapped_column(String(20))
    # Orders it may hold open at once (dispatched through in service).
    capacity: Mapped[int] = mapped_column(default=10)
    status: Mapped[str] = mapped_column(String(12), default=ProviderStatus.NORMAL, index=True)
    status_reason: Mapped[str] = mapped_column(String(255), default="")
    status_changed_at: Mapped[datetime | None]
    grade: Mapped[str] = mapped_column(String(1), default=ProviderGrade.B)
    # 0-100, fed by provider evaluation and credit events.
    credit_score: Mapped[float] = mapped_column(Numeric(5, 1, asdecimal=False), default=80.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)

    coverage: Mapped[list[ProviderCoverage]] = relationship(
        back_populates="provider",
        cascade="all, delete-orphan",
        order_by="ProviderCoverage.region_code",
    )
    offerings: Mapped[list[ProviderOffering]] = relationship(
        back_populates="provider",
        cascade="all, delete-orphan",
        order_by="ProviderOffering.service_type_code",
    )
    staff: Mapped[list[ProviderStaff]] = relationship(
        back_populates="provider", cascade="all, delete-orphan", order_by="ProviderStaff.id"
    )
    licences: Mapped[list[ProviderLicence]] = relationship(
        back_populates="provider", cascade="all, delete-orphan", order_by="ProviderLicence.id"
    )
    agreements: Mapped[list[ProviderAgreement]] = relationship(
        back_populates="provider",
        cascade="all, delete-orphan",
        order_by="ProviderAgreement.valid_from.desc()",
    )

    @property
    def service_type_codes(self) -> list[str]:
        return [o.service_type_code for o in self.offerings]

    @property
    def coverage_codes(self) -> list[str]:
        return [c.region_code for c in self.coverage]


class ProviderCoverage(Base):
    """A region the provider serves, with everything below it."""

    __tablename__ = "provider_coverage"
    __table_args__ = (UniqueConstraint("provider_id", "region_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)

    provider: Mapped[Provider] = relationship(back_populates="coverage")


class ProviderOffering(Base):
    """A service type the provider is contracted to deliver."""

    __tablename__ = "provider_offerings"
    __table_args__ = (UniqueConstraint("provider_id", "service_type_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    service_type_code: Mapped[str] = mapped_column(ForeignKey("service_types.code"), index=True)
    # the unit price agreed with this provider (None: the catalogue's price for its 盟市)
    agreed_price: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))

    provider: Mapped[Provider] = relationship(back_populates="offerings")


class ProviderLicence(Base):
    """A licence or certificate the provider holds (营业执照, 民办非企业单位登记证书, 食品经营许可证,
    医疗机构执业许可证 ...), with its expiry: an expired one is flagged on the officer's pages."""

    __tablename__ = "provider_licences"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    number: Mapped[str] = mapped_column(String(60))
    issuer: Mapped[str] = mapped_column(String(100), default="")
    valid_from: Mapped[date | None] = mapped_column(Date)
    # None: valid without end (长期)
    valid_until: Mapped[date | None] = mapped_column(Date, index=True)
    note: Mapped[str] = mapped_column(String(255), default="")
    recorded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    provider: Mapped[Provider] = relationship(back_populates="licences")


class ProviderAgreement(Base):
    """The service agreement (服务协议) between the civil-affairs side and the provider: its
    number, when it was signed and the period it covers."""

    __tablename__ = "provider_agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(60))
    signed_on: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    terms: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    provider: Mapped[Provider] = relationship(back_populates="agreements")


class ProviderStatusChange(Base):
    """Every change of a provider's status with its reason, who and when (the record the
    officer's page shows; the audit trail holds it too)."""

    __tablename__ = "provider_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(255))
    by: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ProviderStaff(Base):
    """A practitioner (从业人员) of a provider. The ID number is sealed and shown masked.

    Qualifications and certificates (资质证书) with their expiry and training records are rows of
    their own; a person may have a login of their own (``user_id``), which sees only the orders
    they are sent on and ends when they are deactivated.
    """

    __tablename__ = "provider_staff"
    # One person may work for two providers, never twice for the same one.
    __table_args__ = (UniqueConstraint("provider_id", "id_number_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    id_number_sealed: Mapped[str] = mapped_column(Text)
    id_number_index: Mapped[str] = mapped_column(String(64), index=True)
    id_number_masked: Mapped[str] = mapped_column(String(18))
    # Service type codes this person may be sent for.
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # the person's own login on the provider portal (users.id), when one was opened
    user_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    deactivated_at: Mapped[datetime | None]
    deactivated_by: Mapped[str | None] = mapped_column(String(80))
    deactivation_reason: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    provider: Mapped[Provider] = relationship(back_populates="staff")
    qualifications: Mapped[list[StaffQualification]] = relationship(
        back_populates="staff",
        cascade="all, delete-orphan",
        order_by="StaffQualification.id",
        lazy="selectin",
    )
    trainings: Mapped[list[StaffTraining]] = relationship(
        back_populates="staff",
        cascade="all, delete-orphan",
        order_by="StaffTraining.completed_on.desc()",
    )


class StaffQualification(Base):
    """A qualification or certificate of a practitioner (养老护理员 四级, 健康证, 护士执业证书 ...):
    without an unexpired one (or the one a service names) the person is not sent."""

    __tablename__ = "provider_staff_qualifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("provider_staff.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(60))
    level: Mapped[str] = mapped_column(String(20), default="")
    number: Mapped[str] = mapped_column(String(60), default="")
    issuer: Mapped[str] = mapped_column(String(100), default="")
    valid_from: Mapped[date | None] = mapped_column(Date)
    # None: does not expire
    valid_until: Mapped[date | None] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    staff: Mapped[ProviderStaff] = relationship(back_populates="qualifications")

    def fields(self) -> dict[str, Any]:
        """What a form enters of the qualification (a copy starts from these)."""
        return {
            "name": self.name,
            "level": self.level,
            "number": self.number,
            "issuer": self.issuer,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
        }


class StaffTraining(Base):
    """A training a practitioner completed (岗前培训, 继续教育 ...)."""

    __tablename__ = "provider_staff_trainings"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("provider_staff.id", ondelete="CASCADE"), index=True
    )
    course: Mapped[str] = mapped_column(String(100))
    organiser: Mapped[str] = mapped_column(String(100), default="")
    hours: Mapped[float] = mapped_column(Numeric(5, 1, asdecimal=False))
    completed_on: Mapped[date] = mapped_column(Date)
    certificate_no: Mapped[str] = mapped_column(String(60), default="")
    recorded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    staff: Mapped[ProviderStaff] = relationship(back_populates="trainings")
