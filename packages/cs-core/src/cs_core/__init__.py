"""cs-core: the typed domain, the store and the ``cs`` command of the Customer Success SDK."""

from importlib.metadata import version as _version

from cs_core._demo import DemoChunk, DemoOptions, Trajectory, generate_demo
from cs_core._demo_load import DemoSummary, load_demo
from cs_core._enums import (
    ContactStatus,
    ContractStatus,
    LifecycleStage,
    OpportunityOutcome,
    OpportunityType,
    RenewalTrack,
    ResolutionMethod,
    Segment,
    SurveyKind,
    TicketChannel,
    TicketPriority,
    TicketSatisfaction,
    TicketStatus,
    UsageEventType,
)
from cs_core._errors import (
    ConfigurationError,
    CSError,
    FieldProblem,
    InvalidRecordError,
    StoreNotReadyError,
)
from cs_core._identity import account_ids
from cs_core._markers import ENTRY_POINT_GROUP, RegisterCommand, hookimpl, hookspec
from cs_core._outbox import DomainEvent, append_event, read_events
from cs_core._plugins import HookSpecs, plugin_manager
from cs_core._records import (
    AccountOwnedRecord,
    AccountRecord,
    AccountRef,
    ContactRecord,
    ContractRecord,
    OpportunityRecord,
    ProductLine,
    Record,
    SurveyResponseRecord,
    TicketRecord,
    UsageEventRecord,
)
from cs_core._settings import Settings, default_database_path, resolve_database_url
from cs_core._store import Store
from cs_core._tables import (
    Account,
    AccountIdentity,
    Base,
    Contact,
    Contract,
    Opportunity,
    OutboxEvent,
    SurveyResponse,
    Ticket,
    UsageDaily,
    UsageEvent,
    UsageFeatureDaily,
)
from cs_core._usage import DailyUsage, FeatureUsage, refresh_usage_rollups, write_daily_usage
from cs_core._validation import parse_records
from cs_core._writes import WriteResult, resolve_pending_accounts, write_records

__version__ = _version("cs-core")

__all__ = [
    "ENTRY_POINT_GROUP",
    "Account",
    "AccountIdentity",
    "AccountOwnedRecord",
    "AccountRecord",
    "AccountRef",
    "Base",
    "CSError",
    "ConfigurationError",
    "Contact",
    "ContactRecord",
    "ContactStatus",
    "Contract",
    "ContractRecord",
    "ContractStatus",
    "DailyUsage",
    "DemoChunk",
    "DemoOptions",
    "DemoSummary",
    "DomainEvent",
    "FeatureUsage",
    "FieldProblem",
    "HookSpecs",
    "InvalidRecordError",
    "LifecycleStage",
    "Opportunity",
    "OpportunityOutcome",
    "OpportunityRecord",
    "OpportunityType",
    "OutboxEvent",
    "ProductLine",
    "Record",
    "RegisterCommand",
    "RenewalTrack",
    "ResolutionMethod",
    "Segment",
    "Settings",
    "Store",
    "StoreNotReadyError",
    "SurveyKind",
    "SurveyResponse",
    "SurveyResponseRecord",
    "Ticket",
    "TicketChannel",
    "TicketPriority",
    "TicketRecord",
    "TicketSatisfaction",
    "TicketStatus",
    "Trajectory",
    "UsageDaily",
    "UsageEvent",
    "UsageEventRecord",
    "UsageEventType",
    "UsageFeatureDaily",
    "WriteResult",
    "__version__",
    "account_ids",
    "append_event",
    "default_database_path",
    "generate_demo",
    "hookimpl",
    "hookspec",
    "load_demo",
    "parse_records",
    "plugin_manager",
    "read_events",
    "refresh_usage_rollups",
    "resolve_database_url",
    "resolve_pending_accounts",
    "write_daily_usage",
    "write_records",
]
