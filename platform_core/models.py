"""Imports every domain module's models so that ``Base.metadata`` is complete.

Alembic, ``create_all`` in tests and the schema check all start here. One line per module.
"""

from platform_core.accounts import models as accounts_models  # noqa: F401
from platform_core.alarms import models as alarms_models  # noqa: F401
from platform_core.assessment import models as assessment_models  # noqa: F401
from platform_core.audit import models as audit_models  # noqa: F401
from platform_core.audit import protection as audit_protection  # noqa: F401
from platform_core.budgets import models as budgets_models  # noqa: F401
from platform_core.calls import models as calls_models  # noqa: F401
from platform_core.care_beds import models as care_beds_models  # noqa: F401
from platform_core.care_calls import models as care_calls_models  # noqa: F401
from platform_core.care_policy import models as care_policy_models  # noqa: F401
from platform_core.catalogue import models as catalogue_models  # noqa: F401
from platform_core.chats import models as chats_models  # noqa: F401
from platform_core.db import Base
from platform_core.devices import models as devices_models  # noqa: F401
from platform_core.elders import models as elders_models  # noqa: F401
from platform_core.evaluation import models as evaluation_models  # noqa: F401
from platform_core.exchange import models as exchange_models  # noqa: F401
from platform_core.family import models as family_models  # noqa: F401
from platform_core.gov_purchase import models as gov_purchase_models  # noqa: F401
from platform_core.home_adaptation import models as home_adaptation_models  # noqa: F401
from platform_core.imports import models as imports_models  # noqa: F401
from platform_core.ivr import models as ivr_models  # noqa: F401
from platform_core.meal_aid import models as meal_aid_models  # noqa: F401
from platform_core.notifications import models as notifications_models  # noqa: F401
from platform_core.orders import models as orders_models  # noqa: F401
from platform_core.outbox import models as outbox_models  # noqa: F401
from platform_core.provider_api import models as provider_api_models  # noqa: F401
from platform_core.providers import models as providers_models  # noqa: F401
from platform_core.regions import models as regions_models  # noqa: F401
from platform_core.settlement import models as settlement_models  # noqa: F401
from platform_core.sites import models as sites_models  # noqa: F401
from platform_core.sla import models as sla_models  # noqa: F401
from platform_core.social_work import models as social_work_models  # noqa: F401
from platform_core.time_bank import models as time_bank_models  # noqa: F401
from platform_core.verification import models as verification_models  # noqa: F401
from platform_core.volunteers import models as volunteers_models  # noqa: F401

metadata = Base.metadata
