"""service sites: one registry of community and street stations, day care centres and meal
points (each meal point becomes a site of its own id), day care enrolment and attendance, and
the site where a service order happens

Revision ID: 0013_service_sites
Revises: 0012_meal_booking_codes
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0013_service_sites"
down_revision: str | Sequence[str] | None = "0012_meal_booking_codes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("opening_hours", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("status_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_service_sites_region_code_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_sites")),
    )
    with op.batch_alter_table("service_sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_sites_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_service_sites_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index(
            "ix_service_sites_region_prefix",
            ["region_code"],
            unique=False,
            postgresql_ops={"region_code": "varchar_pattern_ops"},
        )

    op.create_table(
        "daycare_enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("end_reason", sa.String(length=200), nullable=True),
        sa.Column("family_code_index", sa.String(length=64), nullable=True),
        sa.Column(
            "family_code_issued_at", platform_core.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("enrolled_by", sa.String(length=100), nullable=False),
        sa.Column("enrolled_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["elder_id"], ["elders.id"], name=op.f("fk_daycare_enrolments_elder_id_elders")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["service_sites.id"],
            name=op.f("fk_daycare_enrolments_site_id_service_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daycare_enrolments")),
    )
    with op.batch_alter_table("daycare_enrolments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_daycare_enrolments_code", ["site_id", "family_code_index"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_daycare_enrolments_elder_id"), ["elder_id"], unique=False
        )
        batch_op.create_index(
            "uq_daycare_enrolments_live",
            ["site_id", "elder_id"],
            unique=True,
            postgresql_where=sa.text("ended_on IS NULL"),
            sqlite_where=sa.text("ended_on IS NULL"),
        )

    op.create_table(
        "site_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=20), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("caption", sa.String(length=100), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["service_sites.id"],
            name=op.f("fk_site_photos_site_id_service_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_photos")),
    )
    with op.batch_alter_table("site_photos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_photos_site_id"), ["site_id"], unique=False)

    op.create_table(
        "site_staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("post", sa.String(length=30), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("manages", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("added_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["service_sites.id"],
            name=op.f("fk_site_staff_site_id_service_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_site_staff_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_staff")),
        sa.UniqueConstraint("site_id", "user_id", name=op.f("uq_site_staff_site_id_user_id")),
    )
    with op.batch_alter_table("site_staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_staff_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_site_staff_user_id"), ["user_id"], unique=False)

    op.create_table(
        "daycare_attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=True),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("checked_in_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("check_in_method", sa.String(length=12), nullable=False),
        sa.Column("checked_in_by", sa.String(length=100), nullable=False),
        sa.Column("checked_out_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("check_out_method", sa.String(length=12), nullable=True),
        sa.Column("checked_out_by", sa.String(length=100), nullable=True),
        sa.Column("over_capacity_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["elder_id"], ["elders.id"], name=op.f("fk_daycare_attendance_elder_id_elders")
        ),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["daycare_enrolments.id"],
            name=op.f("fk_daycare_attendance_enrolment_id_daycare_enrolments"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["service_sites.id"],
            name=op.f("fk_daycare_attendance_site_id_service_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daycare_attendance")),
        sa.UniqueConstraint(
            "site_id", "elder_id", "day", name=op.f("uq_daycare_attendance_site_id_elder_id_day")
        ),
    )
    with op.batch_alter_table("daycare_attendance", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_daycare_attendance_elder_id"), ["elder_id"], unique=False
        )
        batch_op.create_index("ix_daycare_attendance_site_day", ["site_id", "day"], unique=False)

    # every meal point becomes a site of the registry under its own id (bookings, menus and
    # settlements keep pointing at it); a point that had stopped serving is a suspended site
    op.execute(
        "INSERT INTO service_sites (id, kind, name, region_code, address, opening_hours, "
        "services, provider_id, status, status_reason, created_at, updated_at) "
        "SELECT id, 'meal_point', name, region_code, address, '{}', '[\"meals\"]', provider_id, "
        "CASE WHEN active THEN 'open' ELSE 'suspended' END, "
        "CASE WHEN active THEN NULL ELSE '助餐点已停止服务' END, created_at, created_at "
        "FROM meal_points"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('service_sites', 'id'), "
            "COALESCE((SELECT max(id) FROM service_sites), 0) + 1, false)"
        )
        # a meal point's id is its site's from now on
        op.execute("ALTER TABLE meal_points ALTER COLUMN id DROP DEFAULT")
        op.execute("DROP SEQUENCE IF EXISTS meal_points_id_seq")

    with op.batch_alter_table("meal_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meal_points_region_code"))
        batch_op.drop_constraint(
            batch_op.f("fk_meal_points_region_code_regions"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_meal_points_id_service_sites"),
            "service_sites",
            ["id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.drop_column("created_at")
        batch_op.drop_column("provider_id")
        batch_op.drop_column("name")
        batch_op.drop_column("region_code")
        batch_op.drop_column("active")
        batch_op.drop_column("address")

    with op.batch_alter_table("service_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_service_orders_site_id"), ["site_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_service_orders_site_id_service_sites"),
            "service_sites",
            ["site_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("service_orders", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_service_orders_site_id_service_sites"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_service_orders_site_id"))
        batch_op.drop_column("site_id")

    with op.batch_alter_table("meal_points", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("active", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("region_code", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("name", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("provider_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("created_at", platform_core.db.UTCDateTime(timezone=True), nullable=True)
        )
    for column, expression in (
        ("name", "s.name"),
        ("region_code", "s.region_code"),
        ("address", "s.address"),
        ("provider_id", "s.provider_id"),
        ("active", "s.status = 'open'"),
        ("created_at", "s.created_at"),
    ):
        op.execute(
            f"UPDATE meal_points SET {column} = (SELECT {expression} FROM service_sites s "
            "WHERE s.id = meal_points.id)"
        )
    with op.batch_alter_table("meal_points", schema=None) as batch_op:
        for column in ("name", "region_code", "address", "active", "created_at"):
            batch_op.alter_column(column, nullable=False)
        batch_op.drop_constraint(batch_op.f("fk_meal_points_id_service_sites"), type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_meal_points_region_code_regions"), "regions", ["region_code"], ["code"]
        )
        batch_op.create_index(
            batch_op.f("ix_meal_points_region_code"), ["region_code"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE meal_points_id_seq OWNED BY meal_points.id")
        op.execute(
            "SELECT setval('meal_points_id_seq', COALESCE((SELECT max(id) FROM meal_points), 0) + 1, false)"
        )
        op.execute(
            "ALTER TABLE meal_points ALTER COLUMN id SET DEFAULT nextval('meal_points_id_seq')"
        )

    with op.batch_alter_table("daycare_attendance", schema=None) as batch_op:
        batch_op.drop_index("ix_daycare_attendance_site_day")
        batch_op.drop_index(batch_op.f("ix_daycare_attendance_elder_id"))
    op.drop_table("daycare_attendance")
    with op.batch_alter_table("site_staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_staff_user_id"))
        batch_op.drop_index(batch_op.f("ix_site_staff_site_id"))
    op.drop_table("site_staff")
    with op.batch_alter_table("site_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_photos_site_id"))
    op.drop_table("site_photos")
    with op.batch_alter_table("daycare_enrolments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_daycare_enrolments_live",
            postgresql_where=sa.text("ended_on IS NULL"),
            sqlite_where=sa.text("ended_on IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_daycare_enrolments_elder_id"))
        batch_op.drop_index("ix_daycare_enrolments_code")
    op.drop_table("daycare_enrolments")
    with op.batch_alter_table("service_sites", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_service_sites_region_prefix", postgresql_ops={"region_code": "varchar_pattern_ops"}
        )
        batch_op.drop_index(batch_op.f("ix_service_sites_provider_id"))
        batch_op.drop_index(batch_op.f("ix_service_sites_kind"))
    op.drop_table("service_sites")
