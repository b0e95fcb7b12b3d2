"""cs-core: the typed domain, the store and the ``cs`` command of the Customer Success SDK."""

from importlib.metadata import version as _version

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
from cs_core._settings import Settings, default_database_path
from cs_core._store import Store

__version__ = _version("cs-core")

__all__ = [
    "AccountOwnedRecord",
    "AccountRecord",
    "AccountRef",
    "CSError",
    "ConfigurationError",
    "ContactRecord",
    "ContactStatus",
    "ContractRecord",
    "ContractStatus",
    "FieldProblem",
    "InvalidRecordError",
    "LifecycleStage",
    "OpportunityOutcome",
    "OpportunityRecord",
    "OpportunityType",
    "ProductLine",
    "Record",
    "RenewalTrack",
    "ResolutionMethod",
    "Segment",
    "Settings",
    "Store",
    "StoreNotReadyError",
    "SurveyKind",
    "SurveyResponseRecord",
    "TicketChannel",
    "TicketPriority",
    "TicketRecord",
    "TicketSatisfaction",
    "TicketStatus",
    "UsageEventRecord",
    "UsageEventType",
    "__version__",
    "default_database_path",
]
