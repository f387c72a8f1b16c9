"""Least privilege: what each role may do. One table, read by every web handler and event."""

from __future__ import annotations

from enum import StrEnum

from platform_core.actors import Actor, Role
from platform_core.errors import PermissionDenied


class Permission(StrEnum):
    TAKE_CALLS = "take_calls"  # agent state, answer, transfer, hang up, call back
    VIEW_ELDER = "view_elder"  # screen pop, masked profile
    REVEAL_PERSONAL = "reveal_personal"  # unmask an ID number or phone (audited)
    REGISTER_ELDER = "register_elder"  # quick registration of an unknown caller
    OPEN_ORDER = "open_order"
    VIEW_RECALLS = "view_recalls"
    VIEW_WALLBOARD = "view_wallboard"
    MONITOR_CALLS = "monitor_calls"  # listen, whisper, barge
    ASSIGN_ALARMS = "assign_alarms"  # reserve a waiting alarm for an agent of one's choosing
    VIEW_REPORTS = "view_reports"
    EXPORT_REPORTS = "export_reports"
    MANAGE_USERS = "manage_users"
    PROVIDER_PORTAL = "provider_portal"  # a provider's own orders: accept, check in, complete
    # a provider's own administration: its practitioners, their logins, its records
    PROVIDER_ADMIN = "provider_admin"
    DISPATCH_ORDERS = "dispatch_orders"  # why dispatch chose, override it, return visits
    MANAGE_PROVIDERS = "manage_providers"  # API keys, evaluations, settlements
    START_CARE = "start_care"  # start a care process (assessment, meal aid, ...) for a caller
    RECORD_ASSESSMENT = "record_assessment"  # key in a GB/T 42195 form, print its report
    # the registries (基础数据): each kept by the people who own it
    MANAGE_ELDERS = "manage_elders"  # search, create, edit, import, record a death
    EXPORT_ELDERS = "export_elders"  # a filtered list of elders as a file (watermarked, audited)
    MANAGE_DEVICES = "manage_devices"  # register, bind, install, repairs, return visits, retire
    # departments' batches in (deaths, disability, insurance), the export upward, their keys
    DATA_EXCHANGE = "data_exchange"
    # the care office (民政 / 街道社区): the care programmes' daily work
    CARE_CASEWORK = "care_casework"  # take applications and cases through their steps
    CARE_DECIDE = "care_decide"  # approve or refuse, settle, budgets, monthly runs
    CARE_CAMPAIGNS = "care_campaigns"  # create, schedule and follow care-call campaigns
    MEAL_POINT_DESK = "meal_point_desk"  # a meal point's own page: menus, redemption, statistics
    HANDLE_COMPLAINTS = "handle_complaints"  # handle and close complaints with a reply
    AFTERCARE = "aftercare"  # orders after service: return visits due, complaints, closing
    # community services (service sites, social work, volunteers and the time bank)
    VIEW_SITES = "view_sites"  # the region's service sites and their statistics
    MANAGE_SITES = "manage_sites"  # register, edit and close sites; name their managers
    SITE_DESK = "site_desk"  # a site's own day: day care attendance, its staff, photos, hours
    SOCIAL_CASEWORK = "social_casework"  # a social worker's own cases, from intake to closing
    SUPERVISE_SOCIAL_WORK = "supervise_social_work"  # refer, assign, caseloads, overdue visits
    MANAGE_VOLUNTEERS = "manage_volunteers"  # register volunteers, activities, confirm hours
    VOLUNTEER_PORTAL = "volunteer_portal"  # a volunteer's own phone page and time-bank account
    # the family (用户端): invited by the hotline, they see the elders they were invited for
    INVITE_FAMILY = "invite_family"  # invite an elder's family member, end their access
    FAMILY_PORTAL = "family_portal"  # a family member's own phone page: orders, alarms, devices
    # 三员分立: each of these three duties belongs to exactly one role
    ASSIGN_ROLES = "assign_roles"  # 安全管理员: change an account's role
    VIEW_AUDIT = "view_audit"  # 安全审计员: search, export and verify the audit trail
    # shared by the system and security administrators
    LIST_USERS = "list_users"
    END_SESSIONS = "end_sessions"  # end anyone's login in their region


_AGENT: frozenset[Permission] = frozenset(
    {
        Permission.TAKE_CALLS,
        Permission.VIEW_ELDER,
        Permission.REVEAL_PERSONAL,
        Permission.REGISTER_ELDER,
        Permission.OPEN_ORDER,
        Permission.VIEW_RECALLS,
        Permission.DISPATCH_ORDERS,
        Permission.START_CARE,
        Permission.RECORD_ASSESSMENT,
        Permission.VIEW_SITES,
        Permission.AFTERCARE,
        Permission.INVITE_FAMILY,
    }
)

_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.AGENT: _AGENT,
    # a supervisor takes calls as an agent does, and oversees the floor
    Role.SUPERVISOR: _AGENT
    | frozenset(
        {
            Permission.VIEW_WALLBOARD,
            Permission.MONITOR_CALLS,
            Permission.ASSIGN_ALARMS,
            Permission.VIEW_REPORTS,
            Permission.EXPORT_REPORTS,
            Permission.MANAGE_ELDERS,
            Permission.MANAGE_DEVICES,
            Permission.CARE_CAMPAIGNS,
            Permission.HANDLE_COMPLAINTS,
        }
    ),
    Role.ADMIN: frozenset(
        {
            Permission.VIEW_ELDER,
            Permission.REVEAL_PERSONAL,
            Permission.VIEW_WALLBOARD,
            Permission.VIEW_REPORTS,
            Permission.EXPORT_REPORTS,
            Permission.MANAGE_USERS,
            Permission.LIST_USERS,
            Permission.END_SESSIONS,
            Permission.MANAGE_PROVIDERS,
            Permission.MANAGE_ELDERS,
            Permission.EXPORT_ELDERS,
            Permission.MANAGE_DEVICES,
            Permission.VIEW_SITES,
            Permission.MANAGE_SITES,
            Permission.DATA_EXCHANGE,
        }
    ),
    Role.SECURITY_ADMIN: frozenset(
        {Permission.ASSIGN_ROLES, Permission.LIST_USERS, Permission.END_SESSIONS}
    ),
    Role.AUDITOR: frozenset({Permission.VIEW_AUDIT}),
    Role.OFFICER: frozenset(
        {
            Permission.VIEW_WALLBOARD,
            Permission.VIEW_REPORTS,
            Permission.EXPORT_REPORTS,
            Permission.MANAGE_PROVIDERS,
            Permission.MANAGE_ELDERS,
            Permission.EXPORT_ELDERS,
            Permission.MANAGE_DEVICES,
            Permission.DATA_EXCHANGE,
            Permission.REVEAL_PERSONAL,
            Permission.CARE_CASEWORK,
            Permission.CARE_DECIDE,
            Permission.CARE_CAMPAIGNS,
            Permission.HANDLE_COMPLAINTS,
            Permission.AFTERCARE,
            Permission.MEAL_POINT_DESK,
            Permission.VIEW_SITES,
            Permission.MANAGE_SITES,
            Permission.SUPERVISE_SOCIAL_WORK,
            Permission.MANAGE_VOLUNTEERS,
            Permission.INVITE_FAMILY,
        }
    ),
    Role.COMMUNITY_WORKER: frozenset(
        {
            Permission.REVEAL_PERSONAL,
            Permission.CARE_CASEWORK,
            Permission.CARE_CAMPAIGNS,
            Permission.MEAL_POINT_DESK,
        }
    ),
    Role.PROVIDER: frozenset(
        {Permission.PROVIDER_PORTAL, Permission.PROVIDER_ADMIN, Permission.MEAL_POINT_DESK}
    ),
    # a practitioner's own login: the orders they are sent on (the domain checks the person)
    Role.STAFF: frozenset({Permission.PROVIDER_PORTAL}),
    # the community's own people: none holds an account, role or audit duty (三员分立)
    Role.SITE_MANAGER: frozenset(
        {Permission.VIEW_SITES, Permission.SITE_DESK, Permission.MANAGE_VOLUNTEERS}
    ),
    Role.SOCIAL_WORKER: frozenset({Permission.SOCIAL_CASEWORK}),
    Role.VOLUNTEER: frozenset({Permission.VOLUNTEER_PORTAL}),
    Role.FAMILY: frozenset({Permission.FAMILY_PORTAL}),
}


# The duty each separated role holds alone (三员分立).
DUTIES = {
    Role.ADMIN: Permission.MANAGE_USERS,
    Role.SECURITY_ADMIN: Permission.ASSIGN_ROLES,
    Role.AUDITOR: Permission.VIEW_AUDIT,
}


def allows(role: Role | str | None, permission: Permission) -> bool:
    if role is None:
        return False
    return permission in _GRANTS.get(Role(role), frozenset())


def roles_with(permission: Permission) -> set[Role]:
    return {role for role, grants in _GRANTS.items() if permission in grants}


def require(actor: Actor, permission: Permission) -> None:
    if not allows(actor.role, permission):
        raise PermissionDenied(
            f"当前角色无权执行此操作 / your role may not do this ({permission.value})",
            code="permission_denied",
            permission=permission.value,
        )
