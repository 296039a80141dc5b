"""The ledger's tables as SQLAlchemy 2 typed models, one module per area.

Nothing here is ever hard-deleted: assets, codes and events stay for good and
corrections are new rows. Times are stored as UTC and come back timezone-aware.
Every module is imported here, so that ``Base.metadata`` knows every table and
``from server.models import X`` works for any table."""

from server.models.access import (  # noqa: F401
    ApiToken,
    IdempotencyKey,
    Role,
    SignInFailure,
    User,
)
from server.models.approvals import (  # noqa: F401
    Approval,
    ApprovalDecision,
    ApprovalLevel,
    ApprovalState,
    ApproverGrant,
    Department,
)
from server.models.archives import (  # noqa: F401
    ArchiveClass,
    ArchiveDestruction,
    ArchiveDestructionItem,
    ArchiveLoan,
    ArchiveVolume,
)
from server.models.assets import (  # noqa: F401
    Asset,
    AssetEvent,
    AssetStatus,
    Category,
    IssuedCode,
    Location,
    Person,
)
from server.models.audit import (  # noqa: F401
    AuditEntry,
)
from server.models.base import (  # noqa: F401
    Base,
    UTCDateTime,
    code_str,
    created,
    intpk,
    money,
    name_str,
    utcnow,
)
from server.models.gate import (  # noqa: F401
    ExitPermit,
    ExitPermitAsset,
    GateAlert,
    Notification,
    PassStatus,
    SignoutKind,
    Visit,
    VisitorPass,
    WatchlistEntry,
    WatchlistKey,
)
from server.models.kiosks import (  # noqa: F401
    Kiosk,
    KioskEvent,
    RejectedDrop,
    RejectedMessage,
)
from server.models.procurement import (  # noqa: F401
    Intake,
    PlanLine,
    PlanLineAmendment,
    ProcurementMethod,
    Purchase,
    PurchaseLine,
    PurchaseRequest,
)
from server.models.service import (  # noqa: F401
    Job,
    JobState,
    ServiceHeartbeat,
)
from server.models.storeroom import (  # noqa: F401
    MovementKind,
    Requisition,
    Stocktake,
    StocktakeExpected,
    StocktakeResolution,
    StocktakeScan,
    SupplyAlert,
    SupplyItem,
    SupplyMovement,
)

__all__ = [
    "utcnow",
    "UTCDateTime",
    "intpk",
    "code_str",
    "name_str",
    "created",
    "money",
    "Base",
    "AssetStatus",
    "IssuedCode",
    "Category",
    "Location",
    "Person",
    "Asset",
    "AssetEvent",
    "ProcurementMethod",
    "PlanLine",
    "PlanLineAmendment",
    "Purchase",
    "PurchaseLine",
    "Intake",
    "PurchaseRequest",
    "Role",
    "User",
    "SignInFailure",
    "ApiToken",
    "IdempotencyKey",
    "Kiosk",
    "KioskEvent",
    "RejectedMessage",
    "RejectedDrop",
    "AuditEntry",
    "Department",
    "ApprovalLevel",
    "ApprovalState",
    "ApproverGrant",
    "Approval",
    "ApprovalDecision",
    "ServiceHeartbeat",
    "JobState",
    "Job",
    "PassStatus",
    "SignoutKind",
    "VisitorPass",
    "Visit",
    "WatchlistEntry",
    "WatchlistKey",
    "ExitPermit",
    "ExitPermitAsset",
    "GateAlert",
    "Notification",
    "MovementKind",
    "SupplyItem",
    "SupplyMovement",
    "Requisition",
    "SupplyAlert",
    "Stocktake",
    "StocktakeExpected",
    "StocktakeScan",
    "StocktakeResolution",
    "ArchiveClass",
    "ArchiveVolume",
    "ArchiveLoan",
    "ArchiveDestruction",
    "ArchiveDestructionItem",
]
