"""Every table, imported here so that `Base.metadata` knows them all."""

from store.models.assistant import AssistantUsage
from store.models.automation import (
    AutomationRun,
    BasicTool,
    SessionToolAssociation,
    SystemAutomation,
)
from store.models.conversation import (
    Click,
    Message,
    OwedAnswer,
    ProcessedEvent,
    SentAction,
    ToolCallRecord,
)
from store.models.knowledge import KbCollection, KbDocument, KbPassage, UserKbAssociation
from store.models.operations import ApiToken, AuditLog, DeadLetter
from store.models.people import (
    LoginFailure,
    User,
    UserLoginToken,
    UserPreference,
    UserSession,
)
from store.models.platforms import PlatformBot, PlatformChannel, PlatformUser
from store.models.sending import HeldSend, Lease
from store.models.tenancy import Bot, BotConfiguration, BotMemory, Organization

__all__ = [
    "ApiToken",
    "AssistantUsage",
    "AuditLog",
    "AutomationRun",
    "BasicTool",
    "Bot",
    "BotConfiguration",
    "BotMemory",
    "Click",
    "DeadLetter",
    "HeldSend",
    "KbCollection",
    "KbDocument",
    "KbPassage",
    "Lease",
    "LoginFailure",
    "Message",
    "Organization",
    "OwedAnswer",
    "PlatformBot",
    "PlatformChannel",
    "PlatformUser",
    "ProcessedEvent",
    "SentAction",
    "SessionToolAssociation",
    "SystemAutomation",
    "ToolCallRecord",
    "User",
    "UserKbAssociation",
    "UserLoginToken",
    "UserPreference",
    "UserSession",
]
